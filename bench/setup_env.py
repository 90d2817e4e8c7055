"""Create the benchmark's side environments (idempotent; ``run.py`` calls it on first use).

* ``bench/.venv-litellm``: LiteLLM's proxy, the peer gateway.  Its newest release pins
  versions this package registry lacks (``certifi>=2026.10.19``, exact
  ``litellm-proxy-extras`` / ``litellm-enterprise`` pins) and, from 1.110, a companion
  ``litellm-proxy`` package it lacks altogether, so the wheel's own dependency list (base + the
  ``proxy`` extra) is read from its METADATA, those pins are relaxed, ``litellm-proxy`` is
  left out, the list is installed, and then ``litellm`` itself with ``--no-deps``.
* ``bench/.venv-tools``: matplotlib (plots) and py-spy (profiles).  Kept
  out of the project's venv and out of the package's dependencies.
* ``bench/.node-portkey``: the Portkey AI Gateway (npm ``@portkey-ai/gateway``, version pinned), run
  on Node with its server entry ``build/start-server.js`` as its Docker image does.  Its published
  package leaves its dependencies unpinned, and ``@hono/node-server`` newer than 1.14.2 makes every
  streamed answer fail (``TypeError: immutable``, Portkey-AI/gateway issue 1389), so the two hono
  packages are pinned (npm ``overrides``) to the versions of the project's own ``package-lock.json``
  at that release, which its Docker image installs.  Nothing from it is committed.

Usage: ``python bench/setup_env.py [--litellm-version X] [--portkey] [--force]``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
LITELLM_VENV = os.path.join(HERE, ".venv-litellm")
TOOLS_VENV = os.path.join(HERE, ".venv-tools")
TOOLS = ["matplotlib", "py-spy"]
PORTKEY_DIR = os.path.join(HERE, ".node-portkey")
PORTKEY_VERSION = "1.15.2"
# Portkey-AI/gateway's package-lock.json at v1.15.2: the server library its Docker image runs with.
PORTKEY_OVERRIDES = {"@hono/node-server": "1.13.5", "hono": "4.9.7"}
# Requirements whose pins the registry here cannot satisfy: keep the name, drop the version.
RELAX = {"certifi", "litellm-proxy-extras", "litellm-enterprise"}
# Requirements the registry here lacks altogether: ``litellm-proxy`` (from 1.110) is a companion
# package pinned to the same version; the proxy's code and its ``litellm`` command ship in the
# ``litellm`` wheel itself, so it is left out.
DROP = {"litellm-proxy"}


def _run(cmd: list[str]) -> None:
    """Run a pip step quietly; show its output only when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        noise = "WARNING: Location"
        text = "\n".join(line for line in (proc.stdout + proc.stderr).splitlines() if not line.startswith(noise))
        raise SystemExit(f"bench: {' '.join(cmd[:6])} ... failed:\n{text[-3000:]}")


def _python() -> str:
    """The interpreter to build side venvs with: the one running this script."""
    return sys.executable


def _venv(path: str) -> str:
    py = os.path.join(path, "bin", "python")
    if not os.path.exists(py):
        print(f"bench: creating {os.path.relpath(path)}", flush=True)
        _run([_python(), "-m", "venv", path])
        _run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"])
    return py


def _marker_ok(marker: str, extra: str) -> bool:
    from packaging.markers import Marker

    env = {"extra": extra}
    return Marker(marker).evaluate(env)


def litellm_requirements(wheel: str) -> list[str]:
    """The wheel's base + ``proxy`` requirements for this interpreter, with the impossible pins relaxed."""
    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = zf.read(meta_name).decode()
    out: dict[str, str] = {}
    for line in meta.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        req = Requirement(line.split(":", 1)[1].strip())
        if req.marker is not None and not (_marker_ok(str(req.marker), "") or _marker_ok(str(req.marker), "proxy")):
            continue
        req.marker = None
        name = req.name.lower().replace("_", "-")
        if name in DROP:
            continue
        if name in RELAX:
            req.specifier = type(req.specifier)("")
        text = str(req)
        # keep the strictest line per name (the later, extra-specific one usually repeats the base)
        out[name] = text if name not in out or len(text) > len(out[name]) else out[name]
    return sorted(out.values())


def setup_litellm(version: str | None, force: bool = False) -> str:
    """Make ``bench/.venv-litellm`` with LiteLLM's proxy; return its ``litellm`` executable."""
    exe = os.path.join(LITELLM_VENV, "bin", "litellm")
    if os.path.exists(exe) and not force:
        return exe
    if force and os.path.exists(LITELLM_VENV):
        shutil.rmtree(LITELLM_VENV)
    py = _venv(LITELLM_VENV)
    _run([py, "-m", "pip", "install", "-q", "packaging"])
    with tempfile.TemporaryDirectory() as tmp:
        spec = f"litellm=={version}" if version else "litellm"
        print(f"bench: downloading {spec} (wheel only)", flush=True)
        _run([py, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", tmp, spec])
        wheel = glob.glob(os.path.join(tmp, "litellm-*.whl"))[0]
        reqs = subprocess.run(
            [
                py,
                "-c",
                f"import sys; sys.path.insert(0, {HERE!r}); import setup_env; "
                f"print('\\n'.join(setup_env.litellm_requirements({wheel!r})))",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        req_file = os.path.join(tmp, "requirements.txt")
        with open(req_file, "w") as fh:
            fh.write("\n".join(reqs) + "\n")
        print(
            f"bench: installing {len(reqs)} LiteLLM proxy dependencies (pins relaxed: {', '.join(sorted(RELAX))})",
            flush=True,
        )
        _run([py, "-m", "pip", "install", "-q", "-r", req_file])
        _run([py, "-m", "pip", "install", "-q", "--no-deps", wheel])
    version_out = subprocess.run(
        [py, "-c", "import importlib.metadata as m; print(m.version('litellm'))"], capture_output=True, text=True
    ).stdout.strip()
    print(f"bench: LiteLLM {version_out} ready in {os.path.relpath(LITELLM_VENV)}", flush=True)
    return exe


def setup_tools(force: bool = False) -> str:
    """Make ``bench/.venv-tools`` (matplotlib, py-spy); return its python."""
    py = os.path.join(TOOLS_VENV, "bin", "python")
    marker = os.path.join(TOOLS_VENV, ".installed")
    if os.path.exists(marker) and not force:
        return py
    py = _venv(TOOLS_VENV)
    print(f"bench: installing {', '.join(TOOLS)} into {os.path.relpath(TOOLS_VENV)}", flush=True)
    _run([py, "-m", "pip", "install", "-q", *TOOLS])
    open(marker, "w").close()
    return py


def setup_portkey(force: bool = False) -> str:
    """Install the Portkey AI Gateway into ``bench/.node-portkey`` (npm); return its server entry."""
    entry = os.path.join(PORTKEY_DIR, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js")
    marker = os.path.join(PORTKEY_DIR, ".installed")
    wanted = f"{PORTKEY_VERSION} {sorted(PORTKEY_OVERRIDES.items())}"
    if os.path.exists(entry) and os.path.exists(marker) and not force:
        with open(marker) as fh:
            if fh.read().strip() == wanted:
                return entry
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise SystemExit("bench: the portkey target needs Node.js and npm (apt-get install nodejs npm)")
    if os.path.exists(PORTKEY_DIR):
        shutil.rmtree(PORTKEY_DIR)
    os.makedirs(PORTKEY_DIR)
    manifest = {
        "name": "bench-portkey",
        "private": True,
        "description": "written by bench/setup_env.py: the Portkey AI Gateway for the benchmark",
        "dependencies": {"@portkey-ai/gateway": PORTKEY_VERSION},
        "overrides": PORTKEY_OVERRIDES,
    }
    with open(os.path.join(PORTKEY_DIR, "package.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
    print(f"bench: installing @portkey-ai/gateway@{PORTKEY_VERSION} into {os.path.relpath(PORTKEY_DIR)}", flush=True)
    proc = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--omit=dev"], cwd=PORTKEY_DIR, capture_output=True, text=True
    )
    if proc.returncode != 0 or not os.path.exists(entry):
        raise SystemExit(f"bench: npm install of the Portkey gateway failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    with open(marker, "w") as fh:
        fh.write(wanted + "\n")
    return entry


def portkey_versions() -> dict[str, str]:
    """The installed versions of the Portkey gateway and the server library it runs on (for the results)."""
    out = {}
    for pkg in ("@portkey-ai/gateway", "@hono/node-server", "hono"):
        try:
            with open(os.path.join(PORTKEY_DIR, "node_modules", pkg, "package.json")) as fh:
                out[pkg] = str(json.load(fh)["version"])
        except (OSError, ValueError, KeyError):
            pass
    node = shutil.which("node")
    if node:
        out["node"] = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--litellm-version", default=None, help="LiteLLM version (default: newest)")
    parser.add_argument("--force", action="store_true", help="rebuild the environments")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--portkey", action="store_true", help="also install the Portkey AI Gateway (npm)")
    args = parser.parse_args()
    setup_tools(args.force)
    if args.portkey:
        setup_portkey(args.force)
    if not args.skip_litellm:
        setup_litellm(args.litellm_version, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
