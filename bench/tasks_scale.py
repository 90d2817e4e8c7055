"""Tasks at scale, in one command: ``.venv/bin/python bench/tasks_scale.py [--tasks 10000] [--window 120]``.

10,000 unfinished video tasks on one PostgreSQL, two gateway replicas (``omnirouter serve``) polling them
at the mock upstream's Kling (a child process; each poll answers in about 1 ms, and no task ever ends).
Measured:

* lateness of every poll in the steady window: the time the poll reached the vendor minus the task's
  ``next_poll_at`` (a trigger this script adds logs every schedule change; the mock logs every poll's
  arrival), p50 / p99 / max, and how many tasks went unpolled in the window;
* poll traffic: polls per second against what the schedule asked (next polls due in the window), the
  mean gap the pollers set, and the most polls
  in flight at the vendor against the cap (replicas x ``task_poll_concurrency``, default 8);
* CPU of each process in the window (percent of one core);
* chat latency (``bench/loadgen.py ttfc``: streamed chat completions at concurrency 1 through replica A
  to ``bench/upstream.py``), in windows before the tasks exist and while they are polled.

``--workers separate`` starts the replicas with ``tasks.run_pollers: false`` and ``--poll-workers`` (default
2) ``omnirouter tasks work`` processes beside them, which do all the polling (docs/tasks.md, "Running
pollers apart"); ``--workers inline`` (the default) polls in the replicas.  ``--profile SECONDS`` records a
py-spy profile of one polling process during the window (py-spy from ``bench/.venv-tools``, which
``bench/setup_env.py`` makes on first use).

Needs PostgreSQL (``--pg``, default the test server at 127.0.0.1:5432); a throwaway database is created
and dropped.  Results: ``bench/results/tasks-scale-<stamp>.json`` and a summary on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import (  # noqa: E402
    CLIENT_KEY,
    PY,
    ROOT,
    UPSTREAM_KEY,
    Proc,
    cpu_seconds,
    free_port,
    openai_body,
    wait_ready,
)

KLING_MODEL = "kling-v2-1"
CHAT_MODEL = "gpt-4o-mini"
DIRECTIVE = '[[mock {"pending_polls": 100000000, "poll_delay": 0.001}]]'  # never ends; answers in ~1 ms
CAP = 8  # TaskPoller's default polls in flight per channel and replica


def write_json(path: str, obj: Any) -> None:
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=1)


# ----------------------------------------------------------------------------- the vendor (child process)


def run_mock(port: int, out: str) -> None:
    """The mock upstream on ``port``, counting Kling polls in flight; on SIGTERM it writes every task's poll
    times (by our external id) and the counts to ``out``."""
    from aiohttp import web

    from omnirouter.mock_upstream import MockUpstream
    from omnirouter.mock_upstream.tasks_video import VideoTask

    counts = {"in_flight": 0, "most_in_flight": 0, "polls": 0}

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method != "GET" or not request.path.startswith("/v1/videos/"):
            return await handler(request)  # type: ignore[no-any-return]
        counts["in_flight"] += 1
        counts["polls"] += 1
        counts["most_in_flight"] = max(counts["most_in_flight"], counts["in_flight"])
        try:
            return await handler(request)  # type: ignore[no-any-return]
        finally:
            counts["in_flight"] -= 1

    async def main() -> None:
        mock = MockUpstream(max_log=1000)
        mock.app.middlewares.append(count)
        await mock.start("127.0.0.1", port)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        tasks = {id(t): t for t in mock.state.tasks.values() if isinstance(t, VideoTask)}.values()
        polls = {str(t.info.get("external")): t.polled_at for t in tasks}
        write_json(out, {"counts": counts, "polls": polls})
        await mock.close()

    import uvloop

    uvloop.run(main())


# ----------------------------------------------------------------------------- setup


def write_config(path: str, db_url: str, chat_port: int, mock_port: int, results: str, *, inline: bool) -> None:
    from omnirouter.mock_upstream.tasks_wires_a import mock_secret

    price = {"per_second": 0.1, "per_call": 0.05}
    config = {
        "database_url": db_url,
        "log_level": "warning",
        "channels": [
            {"name": "bench-openai", "provider": "openai", "base_url": f"http://127.0.0.1:{chat_port}/v1",
             "api_keys": [UPSTREAM_KEY], "models": [CHAT_MODEL]},
            {"name": "kling-main", "provider": "kling", "base_url": f"http://127.0.0.1:{mock_port}",
             "api_keys": [f"ak1|{mock_secret('ak1')}"], "models": [KLING_MODEL]},
        ],
        "keys": [{"name": "bench", "key": CLIENT_KEY}],
        "prices": {CHAT_MODEL: {"input": 0.15, "output": 0.6}, KLING_MODEL: price},
        # Kling's own schedule: first poll 10 s, then up to 30 s; polls in the replicas or in workers only.
        "tasks": {"result_store": f"local:{results}", "run_pollers": inline},
    }  # fmt: skip
    write_json(path, config)  # JSON is YAML


SCHEDULE_LOG = """
CREATE TABLE bench_schedule (task_id TEXT, next_poll_at DOUBLE PRECISION, at DOUBLE PRECISION);
CREATE FUNCTION bench_log_schedule() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.next_poll_at IS DISTINCT FROM OLD.next_poll_at THEN
    INSERT INTO bench_schedule VALUES (NEW.id, NEW.next_poll_at, extract(epoch FROM clock_timestamp()));
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER bench_schedule AFTER INSERT OR UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION bench_log_schedule();
"""


async def sql(url: str, statement: str, *, autocommit: bool = False) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        if autocommit or not statement.lstrip().upper().startswith("SELECT"):
            await conn.execute(statement)
            return []
        return list(await conn.fetch(statement))
    finally:
        await conn.close()


# ----------------------------------------------------------------------------- load


def chat_window(url: str, body_file: str, requests: int) -> dict[str, Any]:
    """One window of streamed chat completions at concurrency 1 (``bench/loadgen.py ttfc``)."""
    cmd = [PY, os.path.join(HERE, "loadgen.py"), "ttfc", "--url", f"{url}/v1/chat/completions", "--body", body_file,
           "--header", f"Authorization:Bearer {CLIENT_KEY}", "--requests", str(requests), "--warmup", "20"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout
    result: dict[str, Any] = json.loads(out)
    return result


async def create_tasks(urls: list[str], count: int, concurrency: int) -> float:
    """Create ``count`` Kling tasks through the replicas' ``POST /v1/videos`` in turn; the seconds it took."""
    import aiohttp

    gate = asyncio.Semaphore(concurrency)
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    started = time.time()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(i: int) -> None:
            body = {"model": KLING_MODEL, "prompt": f"scale {i} {DIRECTIVE}", "seconds": "5"}
            async with gate, session.post(f"{urls[i % len(urls)]}/v1/videos", json=body, headers=headers) as r:
                if r.status != 200:
                    raise RuntimeError(f"create answered {r.status}: {await r.text()}")
                await r.read()

        await asyncio.gather(*(one(i) for i in range(count)))
    return time.time() - started


def start_profile(procs: list[Proc], name: str, out: str, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy samples the process ``name`` (its main pid) for ``seconds``: collapsed stacks (one line per stack
    and its sample count) into ``out/profile-<name>.txt``; ``bench/profile_stacks.py`` sums them by function."""
    (proc,) = [p for p in procs if p.name == name]
    from setup_env import setup_tools  # bench/.venv-tools, made on first use (as bench/run.py's profile)

    spy = os.path.join(os.path.dirname(setup_tools()), "py-spy")
    cmd = [spy, "record", "--pid", str(proc.pids()[0]), "--duration", str(int(seconds)), "--rate", "200",
           "--format", "raw", "--output", os.path.join(out, f"profile-{name}.txt"), "--nonblocking"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(out, "py-spy.log"), "w"))


# ----------------------------------------------------------------------------- analysis


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def lateness(
    polls: dict[str, list[float]], schedule: list[Any], start: float, end: float
) -> tuple[list[tuple[float, float]], int, int]:
    """Each poll in [start, end) as (arrival, lateness in seconds), tasks polled in it, polls counted."""
    changes: dict[str, tuple[list[float], list[float]]] = {}
    for row in sorted(schedule, key=lambda r: r["at"]):
        at, due = changes.setdefault(row["task_id"], ([], []))
        at.append(row["at"])
        due.append(row["next_poll_at"])
    late: list[tuple[float, float]] = []
    polled = 0
    for external, times in polls.items():
        task_id = external.removeprefix("omni-")
        at, due = changes.get(task_id, ([], []))
        seen = False
        for t in times:
            if not start <= t < end:
                continue
            i = bisect.bisect_left(at, t) - 1  # the schedule in force when the poll arrived
            if i >= 0 and due[i] is not None:
                late.append((t, t - due[i]))
                seen = True
        polled += seen
    return late, polled, len(late)


def summary_ms(values: list[float]) -> dict[str, float]:
    return {"p50": round(pct(values, 0.5) * 1e3, 1), "p99": round(pct(values, 0.99) * 1e3, 1),
            "max": round(max(values, default=float("nan")) * 1e3, 1)}  # fmt: skip


# ----------------------------------------------------------------------------- the run


async def run(args: argparse.Namespace) -> dict[str, Any]:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = os.path.join(HERE, "results", f"tasks-scale-{stamp}")
    os.makedirs(out, exist_ok=True)
    admin = args.pg.rstrip("/")
    name = f"omnirouter_bench_{uuid.uuid4().hex[:10]}"
    await sql(f"{admin}/test", f'CREATE DATABASE "{name}"', autocommit=True)
    db_url = f"{admin}/{name}"
    chat_port, mock_port = free_port(), free_port()
    ports = [free_port(), free_port()]
    procs: list[Proc] = []
    mock_out = os.path.join(out, "polls.json")
    try:
        procs.append(Proc("upstream", [PY, os.path.join(HERE, "upstream.py"), "--port", str(chat_port)],
                          os.path.join(out, "upstream.log")))  # fmt: skip
        mock = Proc("kling-mock", [PY, __file__, "mock", "--port", str(mock_port), "--out", mock_out],
                    os.path.join(out, "mock.log"))  # fmt: skip
        procs.append(mock)
        wait_ready(f"http://127.0.0.1:{chat_port}/health", procs[0], 30)
        wait_ready(f"http://127.0.0.1:{mock_port}/health", mock, 30)
        config = os.path.join(out, "omnirouter.yaml")
        inline = args.workers == "inline"
        write_config(config, db_url, chat_port, mock_port, os.path.join(out, "results"), inline=inline)
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for i, port in enumerate(ports):
            procs.append(Proc(f"replica-{'ab'[i]}", [PY, "-m", "omnirouter", "serve", "--config", config, "--port",
                              str(port)], os.path.join(out, f"replica-{'ab'[i]}.log")))  # fmt: skip
            wait_ready(f"{urls[i]}/health", procs[-1], 60)  # one at a time: the first migrates
        pollers = [proc.name for proc in procs if proc.name.startswith("replica-")] if inline else []
        for i in range(0 if inline else args.poll_workers):
            name = f"worker-{i + 1}"
            procs.append(Proc(name, [PY, "-m", "omnirouter", "tasks", "work", "--config", config],
                              os.path.join(out, f"{name}.log")))  # fmt: skip
            pollers.append(name)
        await sql(db_url, SCHEDULE_LOG)
        body_file = os.path.join(out, "chat.json")
        write_json(body_file, openai_body(CHAT_MODEL, True))

        print(f"chat latency without tasks ({args.windows} windows of {args.chat_requests})", flush=True)
        idle = [chat_window(urls[0], body_file, args.chat_requests) for _ in range(args.windows)]
        print(f"creating {args.tasks} tasks", flush=True)
        create_s = await create_tasks(urls, args.tasks, args.concurrency)
        print(f"  created in {create_s:.1f} s; settling for {args.settle} s", flush=True)
        await asyncio.sleep(args.settle)  # the first polls (10 s after each submit) and the backoff to 30 s
        start = time.time()
        cpu_start = {proc.name: cpu_seconds(proc.pids()) for proc in procs}
        profiler = start_profile(procs, pollers[0], out, args.profile) if args.profile else None
        print(f"steady window: {args.window} s, chat latency in it", flush=True)
        loaded: list[dict[str, Any]] = []
        pause = max(0.0, args.window / args.windows - 5)
        for _ in range(args.windows):
            loaded.append(await asyncio.to_thread(chat_window, urls[0], body_file, args.chat_requests))
            await asyncio.sleep(min(pause, max(0.0, start + args.window - time.time())))
        await asyncio.sleep(max(0.0, start + args.window - time.time()))
        end = time.time()
        if profiler is not None:
            await asyncio.to_thread(profiler.wait, args.profile + 60)
        cpu = {proc.name: round(100 * (cpu_seconds(proc.pids()) - cpu_start[proc.name]) / (end - start), 1)
               for proc in procs}  # fmt: skip
        overdue = await sql(db_url, f"SELECT count(*) AS n FROM tasks WHERE status IN ('queued', 'running') "
                                    f"AND next_poll_at < {end - 5}")  # fmt: skip
        live = await sql(db_url, "SELECT count(*) AS n FROM tasks WHERE status IN ('queued', 'running')")
        schedule = await sql(db_url, "SELECT task_id, next_poll_at, at FROM bench_schedule")
        gaps = await sql(db_url, "SELECT avg(next_poll_at - at) AS gap FROM bench_schedule WHERE at > "
                                 f"{start} AND at < {end}")  # fmt: skip
        due = await sql(db_url, "SELECT count(*) AS n FROM bench_schedule WHERE next_poll_at >= "
                                f"{start} AND next_poll_at < {end}")  # fmt: skip
    finally:
        for proc in reversed(procs):  # the gateways first, the mock last: it writes the polls as it stops
            proc.stop()
        await sql(f"{admin}/test", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', autocommit=True)
    with open(mock_out) as fh:  # noqa: ASYNC230 (the run is over: nothing else waits on the loop)
        recorded = json.load(fh)
    polls, polled, count = lateness(recorded["polls"], [dict(r) for r in schedule], start, end)
    late = [value for _, value in polls]
    window = end - start
    step = window / args.slices
    slices = [summary_ms([v for t, v in polls if start + i * step <= t < start + (i + 1) * step])
              for i in range(args.slices)]  # fmt: skip
    mean_gap = float(gaps[0]["gap"] or 0.0)
    result = {
        "stamp": stamp,
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "tasks": args.tasks,
        "live_at_end": int(live[0]["n"]),
        "create_s": round(create_s, 1),
        "window_s": round(window, 1),
        "polls_in_window": count,
        "tasks_polled_in_window": polled,
        "overdue_by_5s_at_end": int(overdue[0]["n"]),
        "lateness_ms": summary_ms(late),
        "lateness_ms_by_slice": slices,
        "polls_per_s": round(count / window, 1),
        "scheduled_gap_s": round(mean_gap, 1),
        "polls_due_per_s": round(int(due[0]["n"]) / window, 1),  # what the schedule asked in the window
        "most_polls_in_flight": recorded["counts"]["most_in_flight"],
        "pollers": "replicas" if args.workers == "inline" else f"{args.poll_workers} poll-only workers",
        "poll_cap": CAP * len(pollers),
        "cpu_percent_in_window": cpu,  # of one core, per process (replica-a also served the chat windows)
        "chat_idle": [w.get("ttfc_ms", {}) | {"stream_p50": w.get("stream_ms", {}).get("p50")} for w in idle],
        "chat_loaded": [w.get("ttfc_ms", {}) | {"stream_p50": w.get("stream_ms", {}).get("p50")} for w in loaded],
    }
    for label in ("idle", "loaded"):
        windows = result[f"chat_{label}"]
        result[f"chat_{label}_median_p50_ms"] = round(statistics.median(w["p50"] for w in windows), 2)
        result[f"chat_{label}_median_p99_ms"] = round(statistics.median(w["p99"] for w in windows), 2)
    write_json(os.path.join(out, "results.json"), result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    mock = sub.add_parser("mock", help="(internal) the vendor process")
    mock.add_argument("--port", type=int, required=True)
    mock.add_argument("--out", required=True)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=120.0, help="seconds of steady polling measured")
    parser.add_argument("--settle", type=float, default=90.0, help="seconds between the creates and the window")
    parser.add_argument("--windows", type=int, default=3, help="chat latency windows, idle and loaded each")
    parser.add_argument("--chat-requests", type=int, default=300)
    parser.add_argument("--slices", type=int, default=6, help="the window cut in slices for lateness over time")
    parser.add_argument("--concurrency", type=int, default=32, help="creates in flight")
    parser.add_argument(
        "--workers",
        choices=("inline", "separate"),
        default="inline",
        help="poll in the replicas, or in poll-only workers beside replicas that do not poll",
    )
    parser.add_argument("--poll-workers", type=int, default=2, help="poll-only workers with --workers separate")
    parser.add_argument("--profile", type=float, default=0.0, help="seconds of py-spy on one polling process")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    args = parser.parse_args()
    if args.command == "mock":
        run_mock(args.port, args.out)
        return
    os.environ.setdefault("PYTHONPATH", os.path.join(ROOT, "src"))
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
