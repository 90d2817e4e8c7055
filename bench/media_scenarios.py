"""The media scenarios: OpenAI embeddings and streamed speech through each target (issue 12's hot paths).

* Embeddings: ``POST /v1/embeddings``, 8 inputs, ``text-embedding-3-small`` (1536 dimensions); ``base64``
  (what the official SDKs ask for unless told otherwise) and ``float``.  Latency at concurrency 1 (wrk,
  1-s windows, the gateway on the load CPU as for chat) and requests/s at ``EMB_CONNECTIONS``.
* Speech: ``POST /v1/audio/speech``, ``tts-1``, mp3; the bench upstream answers 200 KB of audio in 8 KB
  chunks, the first at once and each other 1 ms later.  Time to first audio byte at concurrency 1
  (``loadgen.py ttfc``: request written -> first body bytes) and the whole answer's time; answers/s
  (and MB/s) at ``SPEECH_CONNECTIONS``.

* Large answers: ``POST /v1/audio/speech`` whose input starts ``[big]``: the bench upstream answers 20 MiB
  of ``audio/mpeg`` in 64 KiB chunks as fast as the socket takes them.  MB/s (answers/s x 20 MiB) at
  concurrency ``BIG_CONCURRENCY``, and the target's peak RSS above its RSS just before, per concurrent
  stream (sampled every 10 ms: a gateway that buffered the answer would grow ~20 MB a stream).  The
  same for a 20 MiB image: ``POST /v1/images/generations``, ``gpt-image-1``, answered as OpenAI does
  (JSON, one PNG as ``b64_json``, with ``content-length``); the minimal relay reads JSON answers whole.

Only ``direct``, ``relay`` and the omnirouter targets run them (the relay forwards the body as is).
Every target is checked first: embeddings decode to 8 vectors of 1536 float32, speech is the upstream's
200 KB byte for byte.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from typing import Any

from common import Settings, http_request, rss_mb, set_affinity
from measure import _median, combine_windows, latency_windows, lua_script, run_loadgen, run_wrk
from targets import EMBEDDING_MODEL, IMAGE_MODEL, SPEECH_MODEL, Target

INPUTS = [f"Document {i}: the quick brown fox jumps over the lazy dog, then rests by the river." for i in range(8)]
DIMS = 1536
SPEECH_BYTES = 200_000  # bench/upstream.py's default
SPEECH_TEXT = "The quick brown fox jumps over the lazy dog. " * 4
EMB_CONNECTIONS = (8, 64)
SPEECH_CONNECTIONS = 16
PATHS = {
    "emb": "/v1/embeddings",
    "emb_f": "/v1/embeddings",
    "speech": "/v1/audio/speech",
    "big": "/v1/audio/speech",
    "big_img": "/v1/images/generations",
}
BIG_CASES = ("big", "big_img")
BIG_BYTES = 20 * 1024 * 1024  # bench/upstream.py's --big-bytes
BIG_CONCURRENCY = (1, 4)


def runs_media(t: Target) -> bool:
    return t.name in ("direct", "relay") or t.name.startswith("omnirouter")


def body(case: str) -> dict[str, Any]:
    if case == "big_img":
        return {"model": IMAGE_MODEL, "prompt": "A lighthouse at dusk, painted large.", "size": "1024x1024"}
    if case in ("speech", "big"):
        text = "[big] " + SPEECH_TEXT if case == "big" else SPEECH_TEXT
        return {"model": SPEECH_MODEL, "input": text, "voice": "alloy", "response_format": "mp3"}
    return {"model": EMBEDDING_MODEL, "input": INPUTS, "encoding_format": "float" if case == "emb_f" else "base64"}


def check_media(t: Target) -> None:
    """Each media path answers what the upstream sent (shape, sizes, decoded values) before it is measured."""
    headers = t.headers("openai")
    for case in ("emb", "emb_f"):
        for _ in range(3):
            status, raw = http_request(t.base + PATHS[case], json.dumps(body(case)).encode(), headers, 30.0)
            if status != 200:
                raise RuntimeError(f"{t.name} {case}: HTTP {status}: {raw[:300]!r}")
            answer = json.loads(raw)
            data = answer["data"]
            if answer["model"] != EMBEDDING_MODEL or len(data) != len(INPUTS):
                raise RuntimeError(f"{t.name} {case}: {answer['model']!r}, {len(data)} vectors")
            for item in data:
                vec = item["embedding"]
                size = len(base64.b64decode(vec)) // 4 if case == "emb" else len(vec)
                if size != DIMS:
                    raise RuntimeError(f"{t.name} {case}: a vector of {size} dimensions")
    for _ in range(3):
        status, raw = http_request(t.base + PATHS["speech"], json.dumps(body("speech")).encode(), headers, 30.0)
        if status != 200 or len(raw) != SPEECH_BYTES or not raw.startswith(b"ID3"):
            raise RuntimeError(f"{t.name} speech: HTTP {status}, {len(raw)} bytes")
    status, raw = http_request(t.base + PATHS["big"], json.dumps(body("big")).encode(), headers, 60.0)
    if status != 200 or len(raw) != BIG_BYTES or not raw.startswith(b"ID3"):
        raise RuntimeError(f"{t.name} big speech: HTTP {status}, {len(raw)} bytes")
    status, raw = http_request(t.base + PATHS["big_img"], json.dumps(body("big_img")).encode(), headers, 60.0)
    image = json.loads(raw)["data"][0]["b64_json"] if status == 200 else ""
    if len(raw) < BIG_BYTES or not base64.b64decode(image[:12]).startswith(b"\x89PNG"):
        raise RuntimeError(f"{t.name} big image: HTTP {status}, {len(raw)} bytes")


def _files(t: Target, work: str) -> dict[str, str]:
    """Per case: the JSON body file (loadgen) and the wrk script."""
    out = {}
    for case in PATHS:
        with open(os.path.join(work, f"{t.name}-{case}.json"), "w") as fh:
            json.dump(body(case), fh)
        out[case] = lua_script(os.path.join(work, f"{t.name}-{case}.lua"), t, body(case), "openai")
    return out


def speech_windows(t: Target, work: str, s: Settings, load_cpu: str | None) -> dict[str, Any]:
    """Time to first audio byte and to the last, at concurrency 1, in ``lat_windows`` windows (medians)."""
    body_file = os.path.join(work, f"{t.name}-speech.json")
    per = max(20, s.ttfc_requests // s.lat_windows)
    windows = [
        run_loadgen(
            "ttfc",
            t.base + PATHS["speech"],
            body_file,
            t.headers("openai"),
            load_cpu,
            requests=per,
            warmup=s.ttfc_warmup if i == 0 else 5,
            **{"max-seconds": s.ttfc_max_s / s.lat_windows},
        )
        for i in range(s.lat_windows)
    ]
    ok = [w for w in windows if "ttfc_ms" in w]
    out: dict[str, Any] = {
        "windows": windows,
        "errors": sum(w.get("errors", 0) for w in ok) + len(windows) - len(ok),
        "n": sum(w.get("n", 0) for w in ok),
        "ttfb_ms": {q: _median([w["ttfc_ms"].get(q, float("nan")) for w in ok]) for q in ("p50", "p90", "p99")},
        "best_ttfb_ms": {
            q: min((w["ttfc_ms"][q] for w in ok if w["ttfc_ms"].get(q) == w["ttfc_ms"].get(q)), default=float("nan"))
            for q in ("p50", "p99")
        },
        "answer_ms": {q: _median([w["stream_ms"].get(q, float("nan")) for w in ok]) for q in ("p50", "p99")},
    }
    return out


def measure_media(t: Target, s: Settings, work: str, load_cpu: str | None) -> dict[str, Any]:
    """The concurrency-1 media measurements of one target, the whole chain on the load CPU (as for chat)."""
    files = _files(t, work)
    pids = t.pids()
    one_core = load_cpu is not None and t.proc is not None
    if one_core:
        set_affinity(pids, load_cpu)
    m: dict[str, Any] = {}
    try:
        for case in ("emb", "emb_f"):
            m[f"{case}_lat"] = latency_windows(t.base + PATHS[case], files[case], s, load_cpu, pids)
        m["speech_ttfb"] = speech_windows(t, work, s, load_cpu)
    finally:
        if one_core:
            set_affinity(pids, t.cpus)
    return m


def media_throughput(targets: list[Target], s: Settings, work: str, load_cpu: str | None) -> dict[str, dict[str, Any]]:
    """Embeddings requests/s and speech answers/s, in 1-s windows interleaved across targets (as ``throughput``)."""
    top = EMB_CONNECTIONS[-1]
    cases = [(f"emb_c{c}", "emb", c) for c in EMB_CONNECTIONS] + [(f"emb_f_c{top}", "emb_f", top)]
    cases.append((f"speech_c{SPEECH_CONNECTIONS}", "speech", SPEECH_CONNECTIONS))
    files = {t.name: _files(t, work) for t in targets}
    seconds = s.rps_s / s.rps_windows
    windows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for w in range(s.rps_windows):
        order = targets[w % len(targets) :] + targets[: w % len(targets)]
        for t in order:
            for key, case, conns in cases:
                url = t.base + PATHS[case]
                result = run_wrk(url, files[t.name][case], conns, seconds, load_cpu, t.pids())
                windows.setdefault((t.name, key), []).append(result)
    out: dict[str, dict[str, Any]] = {t.name: {} for t in targets}
    for (name, key), results in windows.items():
        out[name][key + "_rps"] = combine_windows(results, seconds)
    for m in out.values():
        speech = m.get(f"speech_c{SPEECH_CONNECTIONS}_rps", {})
        speech["mb_s"] = speech.get("rps", float("nan")) * SPEECH_BYTES / 1e6
    return out


class PeakRss:
    """The most RSS ``pids`` reach while in the ``with`` block (sampled every 10 ms), above where they began."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.start = self.peak = rss_mb(pids) if pids else float("nan")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb(self.pids))

    def __enter__(self) -> PeakRss:
        if self.pids:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.pids:
            self._thread.join()


def big_answers(targets: list[Target], s: Settings, work: str, load_cpu: str | None) -> dict[str, dict[str, Any]]:
    """20 MiB answers (speech ``big``, image ``big_img``): MB/s at each of ``BIG_CONCURRENCY`` (windows
    interleaved across targets) and the target's peak RSS growth per concurrent stream (its largest)."""
    files = {t.name: _files(t, work) for t in targets}
    seconds = max(2.0, s.rps_s / s.rps_windows)
    out: dict[str, dict[str, Any]] = {t.name: {} for t in targets}
    for w in range(s.rps_windows):
        order = targets[w % len(targets) :] + targets[: w % len(targets)]
        for t in order:
            for case, conns in [(case, conns) for case in BIG_CASES for conns in BIG_CONCURRENCY]:
                with PeakRss(t.pids()) as rss:
                    result = run_wrk(t.base + PATHS[case], files[t.name][case], conns, seconds, load_cpu, t.pids())
                entry = out[t.name].setdefault(f"{case}_c{conns}", {"windows": [], "rss_growth_mb": []})
                entry["windows"].append(result)
                entry["rss_growth_mb"].append(rss.peak - rss.start)
    for m in out.values():
        for key, entry in m.items():
            combined = combine_windows(entry.pop("windows"), seconds)
            entry.update(combined)
            entry["mb_s"] = combined.get("rps", float("nan")) * BIG_BYTES / 1e6
            entry["rss_growth_mb_per_stream"] = max(entry["rss_growth_mb"]) / int(key.rsplit("_c", 1)[1])
    return out


def media_round(targets: list[Target], s: Settings, work: str, load_cpu: str | None) -> dict[str, dict[str, Any]]:
    """One round of the media scenarios over ``targets`` (those that run them)."""
    chosen = [t for t in targets if runs_media(t)]
    out: dict[str, dict[str, Any]] = {}
    for t in chosen:
        t0 = time.monotonic()
        out[t.name] = measure_media(t, s, work, load_cpu)
        out[t.name]["media_seconds"] = time.monotonic() - t0
    for name, rates in media_throughput(chosen, s, work, load_cpu).items():
        out[name].update(rates)
    for name, big in big_answers(chosen, s, work, load_cpu).items():
        out[name].update(big)
    return out


def summarize_media(m: dict[str, Any]) -> str:
    def g(*path: str) -> float:
        cur: Any = m
        for p in path:
            cur = cur.get(p, {}) if isinstance(cur, dict) else {}
        return cur if isinstance(cur, (int, float)) else float("nan")

    return (
        f"emb b64 lat p50 {g('emb_lat', 'p50_ms'):.3f} ms, {g('emb_c64_rps', 'rps'):.0f} rps@64; "
        f"float {g('emb_f_lat', 'p50_ms'):.3f} ms, {g('emb_f_c64_rps', 'rps'):.0f} rps@64; "
        f"speech ttfb p50 {g('speech_ttfb', 'ttfb_ms', 'p50'):.3f} p99 {g('speech_ttfb', 'ttfb_ms', 'p99'):.3f} ms, "
        f"{g('speech_c16_rps', 'rps'):.0f} answers/s@16; "
        f"20 MiB speech {g('big_c1', 'mb_s'):.0f} MB/s@1, {g('big_c4', 'mb_s'):.0f} MB/s@4, "
        f"RSS +{g('big_c1', 'rss_growth_mb_per_stream'):.1f} / "
        f"+{g('big_c4', 'rss_growth_mb_per_stream'):.1f} MB a stream; "
        f"20 MiB image {g('big_img_c1', 'mb_s'):.0f} MB/s@1, {g('big_img_c4', 'mb_s'):.0f} MB/s@4, "
        f"RSS +{g('big_img_c1', 'rss_growth_mb_per_stream'):.1f} / "
        f"+{g('big_img_c4', 'rss_growth_mb_per_stream'):.1f} MB a stream"
    )
