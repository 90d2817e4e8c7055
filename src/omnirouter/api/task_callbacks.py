"""``POST /callbacks/tasks/{task_id}/{token}``: vendors' task callbacks (Kling, Vidu, MiniMax, Ark).

No client key: the token (``tasks/callbacks.py``) is the secret.  A valid callback is only a hint that the
task moved (``PollHints``): the body is never used for state or money.  Answers:

* a token that is not the id's → 404 with no effect, whether such a task exists or not (no oracle); a
  vendor retries on a non-2xx answer, but only a URL the gateway did not make gets one;
* MiniMax's handshake ``{"challenge": "<value>"}`` with a valid token → 200 ``{"challenge": "<value>"}``
  at once (MiniMax wants the echo within 3 s, before it pushes anything);
* any other body with a valid token, malformed or not, for a live, finished or forgotten task → 200
  ``{"status": "success"}``: the vendor's delivery worked, and a retry would change nothing.  A live task
  is polled at once; a finished one is left alone.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import msgspec
import orjson

from omnirouter.api.errors import OPENAI_ERRORS
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import JSON_HEADERS, Receive, Scope, Send, read_body, send_response
from omnirouter.http.routes import PATH_PARAMS, Auth, Route, RouteDoc
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.tasks.callbacks import CALLBACK_PATH

__all__ = ["CallbackAnswer", "callback_routes"]

MAX_CALLBACK_BYTES = 1024 * 1024
"""The largest callback body read (vendors send a task object; Vidu's may carry a ≤1 MiB ``payload``)."""
_OK = orjson.dumps({"status": "success"})


class CallbackAnswer(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The answer to a callback: ``status`` (``success``), or the handshake's echoed ``challenge``."""

    status: str | None = None
    challenge: str | None = None


def _challenge(body: bytes) -> str | None:
    """MiniMax's handshake value, when ``body`` is one (a JSON object whose ``challenge`` is a string)."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    challenge = parsed.get("challenge") if isinstance(parsed, dict) else None
    return challenge if isinstance(challenge, str) else None


def callback_routes(gateway: Gateway) -> list[Route]:
    """The vendor callback route of one worker."""

    async def callback(scope: Scope, receive: Receive, send: Send) -> None:
        params = scope[PATH_PARAMS]
        task_id, token = unquote(params["task_id"]), unquote(params["token"])
        if not gateway.callback_links.valid(task_id, token):
            raise GatewayError(ErrorKind.NOT_FOUND, "Not found.", code="not_found")
        body = await read_body(receive, MAX_CALLBACK_BYTES, scope)
        challenge = _challenge(body)
        if challenge is not None:
            await send_response(send, 200, orjson.dumps({"challenge": challenge}), JSON_HEADERS)
            return
        await gateway.task_hints.hint(task_id)
        await send_response(send, 200, _OK, JSON_HEADERS)

    doc = RouteDoc(body=dict[str, Any], body_required=False, response=CallbackAnswer, errors=(404, 413), tag="videos")
    summary = ("A vendor's task callback (the URL the gateway gave it): polls the task now; echoes MiniMax's "
               "challenge")  # fmt: skip
    return [Route("POST", f"{CALLBACK_PATH}/{{task_id}}/{{token}}", callback, OPENAI_ERRORS, summary, Auth.NONE,
                  doc=doc)]  # fmt: skip
