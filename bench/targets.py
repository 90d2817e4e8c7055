"""The gateways under test: how each is configured, started and checked before it is measured."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from common import (
    CLIENT_KEY,
    HERE,
    LITELLM_KEY,
    PY,
    SPEEDS,
    UPSTREAM_KEY,
    Proc,
    Settings,
    anthropic_body,
    cpus,
    free_port,
    http_request,
    openai_body,
    pin,
    rss_mb,
    wait_ready,
)

# ----------------------------------------------------------------------------- targets


@dataclass
class Target:
    name: str
    label: str
    port: int
    key: str
    cpus: str | None
    openai_model: str = "gpt-4o-mini"
    anthropic_model: str | None = None  # None: no translated path
    health: str = "/health"
    extra_headers: dict[str, str] = field(default_factory=dict)  # sent with every request (Portkey's routing)
    proc: Proc | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def translated(self) -> bool:
        return self.anthropic_model is not None

    def headers(self, protocol: str) -> dict[str, str]:
        if protocol == "anthropic":
            base = {"x-api-key": self.key, "anthropic-version": "2023-06-01", "content-type": "application/json"}
        else:
            base = {"authorization": f"Bearer {self.key}", "content-type": "application/json"}
        return {**base, **self.extra_headers}

    def path(self, protocol: str) -> str:
        return "/v1/messages" if protocol == "anthropic" else "/v1/chat/completions"

    def body(self, protocol: str, stream: bool, speed: str = "") -> dict[str, Any]:
        suffix = f"-{speed}" if speed else ""
        if protocol == "anthropic":
            assert self.anthropic_model is not None
            return anthropic_body(self.anthropic_model + suffix, stream)
        return openai_body(self.openai_model + suffix, stream)

    def pids(self) -> list[int]:
        return self.proc.pids() if self.proc is not None else []


EMBEDDING_MODEL, SPEECH_MODEL = "text-embedding-3-small", "tts-1"  # the media scenarios (bench/media_scenarios.py)
IMAGE_MODEL = "gpt-image-1"


def write_omnirouter_config(path: str, upstream_port: int, db: str, extra: str = "") -> None:
    models = [f"gpt-4o-mini{s}" for s in SPEEDS]
    claude = {f"claude-haiku-4-5{s}": f"gpt-4o-mini{s}" for s in SPEEDS}
    lines = [
        "# Written by bench/run.py: one OpenAI channel to the benchmark upstream, one client key,",
        "# usage recording on (default batching), prices for billing.",
        f"database_url: sqlite:///{db}",
        "channels:",
        "  - name: bench-openai",
        "    provider: openai",
        f"    base_url: http://127.0.0.1:{upstream_port}/v1",
        f"    api_keys: [{UPSTREAM_KEY}]",
        f"    models: [{', '.join(models + list(claude) + [EMBEDDING_MODEL, SPEECH_MODEL, IMAGE_MODEL])}]",
        "    model_map: {" + ", ".join(f"{k}: {v}" for k, v in claude.items()) + "}",
        "keys:",
        "  - name: bench",
        f"    key: {CLIENT_KEY}",
        "prices:",
    ]
    for m in models + list(claude):
        lines.append(f"  {m}: {{input: 0.15, output: 0.60}}")
    lines.append(f"  {EMBEDDING_MODEL}: {{input: 0.02}}")
    lines.append(f"  {SPEECH_MODEL}: {{per_1k_characters: 0.015}}")
    lines.append(f"  {IMAGE_MODEL}: {{input: 5, image_input: 10, image_output: 40}}")
    if extra:
        lines.append(extra)
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def write_litellm_config(path: str, upstream_port: int) -> None:
    entries = []
    pairs = [(f"gpt-4o-mini{s}", f"gpt-4o-mini{s}") for s in SPEEDS]
    pairs += [(f"claude-haiku-4-5{s}", f"gpt-4o-mini{s}") for s in SPEEDS]
    for public, upstream in pairs:
        entries.append(
            f"  - model_name: {public}\n"
            f"    litellm_params: {{model: openai/{upstream}, api_base: 'http://127.0.0.1:{upstream_port}/v1', "
            f"api_key: {UPSTREAM_KEY}}}\n"
        )
    with open(path, "w") as fh:
        fh.write("model_list:\n" + "".join(entries))
        fh.write(f"general_settings:\n  master_key: {LITELLM_KEY}\n")
        fh.write("litellm_settings:\n  telemetry: false\n")


LITELLM_ENV = {
    # /v1/messages for OpenAI models: translate to Chat Completions (the default goes to /v1/responses)
    "LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES": "True",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no network fetch of the price list at start
    "LITELLM_LOG": "ERROR",
}


def start_portkey(name: str, entry: str, port: int, cpu: str | None, log: str) -> Proc:
    """The Portkey AI Gateway on Node: its server entry, as its Docker image runs it (``npm run start:node``).

    ``node`` directly rather than ``npx``/``npm run``, so that the target's processes (memory, CPU
    time) are the gateway's alone.  It listens on every interface (it has no host option).
    """
    cmd = [*pin(cpu), "node", entry, f"--port={port}"]
    return Proc(name, cmd, log, cwd=os.path.dirname(os.path.dirname(entry)))


def start_relay(name: str, port: int, upstream_port: int, cpu: str | None, log: str) -> Proc:
    """The minimal relay (``bench/relay.py``) on uvicorn with uvloop and httptools, 1 worker."""
    cmd = [*pin(cpu), PY, "-m", "uvicorn", "relay:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    env = {"RELAY_UPSTREAM": f"http://127.0.0.1:{upstream_port}", "PYTHONPATH": HERE}
    return Proc(name, cmd, log, env=env, cwd=HERE)


def start_targets(
    names: list[str],
    s: Settings,
    out: str,
    upstream_port: int,
    litellm_exe: str | None,
    targets: list[Target],
    portkey_entry: str | None = None,
) -> None:
    """Start every target (appending to ``targets`` at once, so the caller can stop them whatever happens)."""
    n = cpus()
    gw_cpu = "1" if n >= 2 else None
    for name in names:
        port = free_port()
        if name == "direct":
            t = Target("direct", "direct (client -> upstream)", upstream_port, UPSTREAM_KEY, None)
        elif name == "relay":
            t = Target("relay", "minimal relay (1 worker)", port, "unused", gw_cpu, health="/health")
            t.proc = start_relay(name, port, upstream_port, gw_cpu, os.path.join(out, "relay.log"))
        elif name.startswith("omnirouter"):
            workers = s.workers if name.startswith("omnirouter-w") else 1
            cfg = os.path.join(out, f"{name}.yaml")
            # omnirouter-noflush (diagnostic, not in the default set): usage kept in memory until shutdown,
            # to show what the periodic batch write costs the requests that arrive while it runs
            extra = "usage_flush_interval: 3600\nusage_batch_size: 100000" if name == "omnirouter-noflush" else ""
            write_omnirouter_config(cfg, upstream_port, os.path.join(out, f"{name}.db"), extra)
            label = "omnirouter (1 worker)" if workers == 1 else f"omnirouter ({workers} workers)"
            if name == "omnirouter-noflush":
                label = "omnirouter, usage flush deferred (diagnostic)"
            t = Target(
                name, label, port, CLIENT_KEY, gw_cpu if workers == 1 else None, anthropic_model="claude-haiku-4-5"
            )
            t.metrics["workers"] = workers
            env = None
            if name == "omnirouter-base":  # the same interpreter and packages, the baseline's own code
                if not s.baseline:
                    raise SystemExit("omnirouter-base needs --baseline DIR")
                env = {"PYTHONPATH": os.path.join(s.baseline, "src")}
                t.label = f"omnirouter baseline {os.path.basename(s.baseline)} (1 worker)"
            cmd = [*pin(t.cpus), PY, "-m", "omnirouter", "serve", "--config", cfg, "--port", str(port)]
            t.proc = Proc(name, [*cmd, "--workers", str(workers)], os.path.join(out, f"{name}.log"), env=env)
        elif name == "litellm":
            if litellm_exe is None:
                continue
            cfg = os.path.join(out, "litellm.yaml")
            write_litellm_config(cfg, upstream_port)
            t = Target(
                "litellm",
                "LiteLLM proxy (1 worker)",
                port,
                LITELLM_KEY,
                gw_cpu,
                anthropic_model="claude-haiku-4-5",
                health="/health/liveliness",
            )
            cmd = [
                *pin(gw_cpu),
                litellm_exe,
                "--config",
                cfg,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
            ]
            t.proc = Proc(name, cmd, os.path.join(out, "litellm.log"), env=LITELLM_ENV, cwd=out)
        elif name == "portkey":
            if portkey_entry is None:
                continue
            # Portkey's open-source gateway routes by headers and has no keys of its own: the client sends
            # the upstream key, the provider and the upstream's base URL with each request.  Its /v1/messages
            # does not translate to an OpenAI upstream ("messages is not supported by openai"): no translated path.
            t = Target(
                "portkey",
                "Portkey AI Gateway (Node, 1 process)",
                port,
                UPSTREAM_KEY,
                gw_cpu,
                health="/",
                extra_headers={
                    "x-portkey-provider": "openai",
                    "x-portkey-custom-host": f"http://127.0.0.1:{upstream_port}/v1",
                },
            )
            t.proc = start_portkey(name, portkey_entry, port, gw_cpu, os.path.join(out, "portkey.log"))
        else:
            raise SystemExit(f"unknown target {name!r}")
        targets.append(t)
    for t in targets:
        wait_ready(t.base + t.health, t.proc, 120.0 if t.name in ("litellm", "portkey") else 30.0)
        t.metrics["warmup_failures"] = check_target(t)
        time.sleep(1.0)
        t.metrics["idle_mb"] = rss_mb(t.pids()) if t.proc else None
        t.metrics["idle_mb_per_process"] = [round(rss_mb([p]), 1) for p in t.pids()] if t.proc else []
        print(
            f"bench: {t.label} ready on :{t.port}" + (f", idle {t.metrics['idle_mb']:.0f} MB" if t.proc else ""),
            flush=True,
        )


def check_target(t: Target) -> int:
    """Every path answers 200 with the expected shape before anything is measured (and warms it up).

    A path may fail a few times right after start (LiteLLM's first requests sometimes do); those
    failures are counted and returned, and each path must then answer three times in a row.
    """
    protocols = ["openai", "anthropic"] if t.translated else ["openai"]
    failures = 0
    for protocol in protocols:
        for stream in (False, True):
            body = json.dumps(t.body(protocol, stream)).encode()
            expect = ("message_stop" if protocol == "anthropic" else "[DONE]") if stream else "tok11"
            good, problem = 0, ""
            for _ in range(10):
                status, raw = http_request(t.base + t.path(protocol), body, t.headers(protocol), timeout=30.0)
                text = raw.decode(errors="replace")
                if status == 200 and expect in text:
                    good += 1
                    if good == 3:
                        break
                    continue
                failures += 1
                good, problem = 0, f"HTTP {status}: {text[:300]!r}"
                time.sleep(1.0)
            if good < 3:
                raise RuntimeError(f"{t.name} {protocol} stream={stream}: {problem}")
    if failures:
        print(f"bench: {t.name}: {failures} warm-up request(s) failed before every path answered", flush=True)
    return failures
