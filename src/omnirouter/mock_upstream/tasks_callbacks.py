"""Vendor callbacks at the mock: a video task submitted with a ``callback_url`` (Kling, Vidu, MiniMax,
Ark) runs its scripted timeline by the clock instead of by polls — one step every ``CALLBACK_STEP``
seconds, through the same ``pending_polls`` states — and the vendor POSTs its body for each new state to
the URL, as the real ones do: Kling the task object (the ``data`` of its query answer), Vidu the body of
its GET, MiniMax a query-shaped body with the lower-case status its callbacks use (``processing``,
``success``, ``failed``), Ark the task object.  Polls of such a task read its state without moving it.

MiniMax first POSTs ``{"challenge": "<value>"}`` and wants the value echoed within 3 s
(``challenge_echoed``); without the echo the task is still made but nothing is pushed.  Every push is
recorded in ``VideoTask.pushes`` as (state, the answer's HTTP status; 0 when none came); a failed
delivery is not retried.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from omnirouter.mock_upstream.core import STATE_KEY
from omnirouter.mock_upstream.tasks_video import VideoTask, status_of

__all__ = ["CALLBACK_STEP", "BodyOf", "challenge_echoed", "push_timeline"]

CALLBACK_STEP = 0.1
"""Seconds between the timeline steps of a task that has a callback URL."""
CHALLENGE_TIMEOUT = 3.0
"""How long MiniMax waits for its challenge's echo."""
_ENDS = ("succeeded", "failed", "cancelled")

BodyOf = Callable[[str], dict[str, Any]]
"""The vendor's callback body for a state (``queued``, ``running``, ``succeeded``, ``failed``, ``cancelled``)."""


async def challenge_echoed(url: str) -> bool:
    """MiniMax's handshake: POST a fresh ``challenge`` to ``url``; whether the answer echoed it in time."""
    challenge = secrets.token_urlsafe(16)
    try:
        timeout = aiohttp.ClientTimeout(total=CHALLENGE_TIMEOUT)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json={"challenge": challenge}) as response,
        ):
            answer = await response.json(content_type=None)
            return response.status == 200 and isinstance(answer, dict) and answer.get("challenge") == challenge
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False


def push_timeline(request: web.Request, task: VideoTask, url: str, body_of: BodyOf) -> None:
    """Run ``task``'s timeline by the clock from now on, POSTing ``body_of(state)`` to ``url`` at each change."""
    task.callback = url
    background = request.app[STATE_KEY].background
    job = asyncio.create_task(_push(task, url, body_of), name=f"mock-callbacks-{task.id}")
    background.add(job)
    job.add_done_callback(background.discard)


async def _push(task: VideoTask, url: str, body_of: BodyOf) -> None:
    last = status_of(task)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0)) as session:
        while last not in _ENDS:
            await asyncio.sleep(CALLBACK_STEP)
            status = status_of(task, step=True)
            if status == last:
                continue
            last = status
            try:
                async with session.post(url, json=body_of(status)) as response:
                    await response.read()
                    task.pushes.append((status, response.status))
            except (aiohttp.ClientError, TimeoutError):
                task.pushes.append((status, 0))
