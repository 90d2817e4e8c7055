#!/usr/bin/env bash
# Smoke test: the real coding-agent CLIs (Claude Code, Codex CLI, Gemini CLI) through omnirouter to a
# model of every upstream vendor (OpenAI Chat, Anthropic, Gemini), with the mock upstream as the
# provider. Nothing leaves 127.0.0.1 except the one-time `npm ci` of the pinned CLIs.
#
#   scripts/agents/smoke.sh                      # the whole matrix: 3 CLIs x 3 vendors x {text, tool}
#   scripts/agents/smoke.sh claude gemini        # only these CLIs (claude, codex, gemini)
#
# Environment:
#   AGENTS_CACHE   where the CLIs are installed (default <repo>/.cache/agents, git-ignored);
#                  reinstalled when scripts/agents/package-lock.json changes
#   OMNIROUTER     the omnirouter executable (default <repo>/.venv/bin/omnirouter)
#   CASES          "text tool" (default) or one of them
#   VENDORS        "openai anthropic gemini" (default) or a subset
#   CALL_TIMEOUT   seconds per CLI call (default 90)
#   KEEP=1         keep the scratch dir (gateway/mock logs, each CLI's stdout/stderr, homes)
#
# Prints one row per (CLI, vendor, case) and exits 1 if any row failed, 2 on a setup error.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${AGENTS_CACHE:-$REPO/.cache/agents}"
OMNIROUTER="${OMNIROUTER:-$REPO/.venv/bin/omnirouter}"
CASES="${CASES:-text tool}"
VENDORS="${VENDORS:-openai anthropic gemini}"
CALL_TIMEOUT="${CALL_TIMEOUT:-90}"
CLIS="${*:-claude codex gemini}"
KEY="sk-agents-smoke-0001"

declare -A MODEL=([openai]=gpt-4o-mini [anthropic]=claude-sonnet-4-5 [gemini]=gemini-2.5-flash)
declare -A UPSTREAM_PATH=([openai]=/v1/chat/completions [anthropic]=/v1/messages [gemini]=streamGenerateContent)

die() { echo "smoke: $*" >&2; exit 2; }
command -v node >/dev/null || die "node not found (Node.js >= 20 needed)"
command -v npm >/dev/null || die "npm not found"
command -v curl >/dev/null || die "curl not found"
[ -x "$OMNIROUTER" ] || die "omnirouter not found at $OMNIROUTER (make install, or set OMNIROUTER)"
PY="$(dirname "$OMNIROUTER")/python"; [ -x "$PY" ] || PY=python3

# --- 1. the CLIs, pinned by package-lock.json, installed once into the cache --------------------
install_clis() {
  local stamp="$CACHE/.lock-$(sha256sum "$HERE/package-lock.json" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  echo "smoke: installing the CLIs into $CACHE (npm ci, ~750 MB, once)" >&2
  mkdir -p "$CACHE" || die "cannot create $CACHE"
  rm -rf "$CACHE/node_modules" "$CACHE"/.lock-*
  cp "$HERE/package.json" "$HERE/package-lock.json" "$CACHE/"
  # --ignore-scripts: nothing to compile (node-pty); Claude Code is then started through its
  # cli-wrapper.cjs, which runs the platform binary from its optional dependency.
  (cd "$CACHE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed"
  touch "$stamp"
}
install_clis
NM="$CACHE/node_modules"
CLAUDE=(node "$NM/@anthropic-ai/claude-code/cli-wrapper.cjs")
CODEX=("$NM/.bin/codex")
GEMINI=(node "$NM/@google/gemini-cli/bundle/gemini.js")

# --- 2. mock upstream + gateway on free ports ----------------------------------------------------
SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/omnirouter-agents.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ "${KEEP:-0}" = 1 ]; then echo "smoke: kept $SCRATCH" >&2; else rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r MOCK_PORT GW_PORT < <("$PY" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks: s.close()')
MOCK="http://127.0.0.1:$MOCK_PORT"
GW="http://127.0.0.1:$GW_PORT"

cat > "$SCRATCH/omnirouter.yaml" <<EOF
database_url: sqlite:///$SCRATCH/omnirouter.db
log_level: warning
channels:
  - {name: up-openai, provider: openai, base_url: "$MOCK/v1", api_keys: [sk-up-openai], models: [gpt-4o-mini]}
  - {name: up-anthropic, provider: anthropic, base_url: "$MOCK", api_keys: [sk-up-anthropic], models: [claude-sonnet-4-5, claude-haiku-4-5]}
  - {name: up-gemini, provider: gemini, base_url: "$MOCK", api_keys: [sk-up-gemini], models: [gemini-2.5-pro, gemini-2.5-flash]}
keys:
  - {name: agents, key: $KEY}
EOF

"$OMNIROUTER" mock-upstream --port "$MOCK_PORT" >"$SCRATCH/mock.log" 2>&1 &
PIDS+=($!)
"$OMNIROUTER" serve --config "$SCRATCH/omnirouter.yaml" --port "$GW_PORT" >"$SCRATCH/gateway.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 150); do
  curl -sf "$MOCK/_mock/health" >/dev/null && curl -sf "$GW/health" >/dev/null && break
  sleep 0.2
done
curl -sf "$GW/health" >/dev/null || { tail -20 "$SCRATCH/gateway.log" >&2; die "gateway did not start"; }
curl -sf "$MOCK/_mock/health" >/dev/null || { tail -20 "$SCRATCH/mock.log" >&2; die "mock upstream did not start"; }

# --- 3. the matrix -------------------------------------------------------------------------------
WORK="$SCRATCH/work"   # the CLIs' cwd: a throwaway directory with one file to read
mkdir -p "$WORK"
SECRET="pineapple$RANDOM$RANDOM"
echo "the secret word is $SECRET" > "$WORK/notes.txt"

tool_directive() {  # the mock's scripted tool call: each CLI's own read-only tool
  case "$1" in
    claude) echo "{\"tool_calls\": [{\"name\": \"Read\", \"arguments\": {\"file_path\": \"$WORK/notes.txt\"}}]}" ;;
    codex) echo '{"tool_calls": [{"name": "exec_command", "arguments": {"cmd": "cat notes.txt"}}]}' ;;
    gemini) echo '{"tool_calls": [{"name": "read_file", "arguments": {"file_path": "notes.txt"}}]}' ;;
  esac
}

run_cli() {  # run_cli CLI MODEL PROMPT OUTDIR -> exit code; stdout/stderr in OUTDIR
  local cli=$1 model=$2 prompt=$3 out=$4 home="$4/home"
  mkdir -p "$home"
  local base=(env -i "PATH=$PATH" "HOME=$home" "TMPDIR=$out" "LANG=C.UTF-8" "TERM=dumb" "NO_COLOR=1")
  case "$cli" in
    claude)
      (cd "$WORK" && "${base[@]}" \
        ANTHROPIC_BASE_URL="$GW" ANTHROPIC_API_KEY="$KEY" \
        ANTHROPIC_MODEL="$model" ANTHROPIC_DEFAULT_HAIKU_MODEL="$model" \
        ANTHROPIC_DEFAULT_SONNET_MODEL="$model" ANTHROPIC_DEFAULT_OPUS_MODEL="$model" \
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 \
        DISABLE_ERROR_REPORTING=1 \
        timeout "$CALL_TIMEOUT" "${CLAUDE[@]}" -p "$prompt" ) </dev/null >"$out/stdout" 2>"$out/stderr"
      ;;
    codex)
      mkdir -p "$home/codex"
      cat > "$home/codex/config.toml" <<EOF
model = "$model"
model_provider = "omnirouter"

[model_providers.omnirouter]
name = "omnirouter"
base_url = "$GW/v1"
wire_api = "responses"
env_key = "OMNIROUTER_KEY"
EOF
      (cd "$WORK" && "${base[@]}" CODEX_HOME="$home/codex" OMNIROUTER_KEY="$KEY" \
        timeout "$CALL_TIMEOUT" "${CODEX[@]}" exec --skip-git-repo-check -m "$model" "$prompt" ) \
        </dev/null >"$out/stdout" 2>"$out/stderr"
      ;;
    gemini)
      # Gemini CLI 0.61 maps GOOGLE_GEMINI_BASE_URL alone to a "gateway" auth type that its
      # non-interactive mode then rejects ("Invalid auth method selected."): choose the API-key
      # auth in settings; the base URL is still taken from GOOGLE_GEMINI_BASE_URL.
      mkdir -p "$home/.gemini"
      cat > "$home/.gemini/settings.json" <<'EOF'
{"security": {"auth": {"selectedType": "gemini-api-key"}},
 "privacy": {"usageStatisticsEnabled": false}, "telemetry": {"enabled": false},
 "general": {"disableAutoUpdate": true, "disableUpdateNag": true}}
EOF
      (cd "$WORK" && "${base[@]}" GEMINI_API_KEY="$KEY" GOOGLE_GEMINI_BASE_URL="$GW" \
        GEMINI_CLI_TRUST_WORKSPACE=true \
        timeout "$CALL_TIMEOUT" "${GEMINI[@]}" -m "$model" -p "$prompt" ) \
        </dev/null >"$out/stdout" 2>"$out/stderr"
      ;;
  esac
}

upstream_summary() {  # what reached the mock: "N x provider" and whether all went to the expected path
  curl -s "$MOCK/_mock/requests" | "$PY" -c '
import json, sys
want_provider, want_path = sys.argv[1], sys.argv[2]
reqs = json.load(sys.stdin)
ok = bool(reqs) and all(r["provider"] == want_provider and want_path in r["path"] for r in reqs)
print(len(reqs), "ok" if ok else "wrong:" + ",".join(sorted({r["provider"] + ":" + r["path"] for r in reqs})))
' "$1" "$2"
}

FAILED=0
ROWS=()
row() { ROWS+=("$(printf '%-7s %-10s %-18s %-5s %4s %6s  %-13s %s' "$@")"); }
row CLI VENDOR MODEL CASE EXIT SECS UPSTREAM RESULT
for cli in $CLIS; do
  case "$cli" in claude|codex|gemini) ;; *) die "unknown CLI '$cli' (claude, codex, gemini)";; esac
  for vendor in $VENDORS; do
    model="${MODEL[$vendor]}"
    for kind in $CASES; do
      out="$SCRATCH/runs/$cli-$vendor-$kind"; mkdir -p "$out"
      curl -s -X DELETE "$MOCK/_mock/requests" >/dev/null
      curl -s -X DELETE "$MOCK/_mock/script" >/dev/null
      if [ "$kind" = tool ]; then
        curl -s -X POST "$MOCK/_mock/script" -d "{\"directive\": $(tool_directive "$cli"), \"times\": 1}" >/dev/null
        prompt="show me notes.txt"; want="$SECRET"; want_calls=2
      else
        prompt="say hello"; want="Echo:"; want_calls=1
      fi
      start=$(date +%s.%N)
      run_cli "$cli" "$model" "$prompt" "$out"; rc=$?
      secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
      read -r calls route < <(upstream_summary "$vendor" "${UPSTREAM_PATH[$vendor]}")
      result=PASS; why=""
      if [ "$rc" != 0 ]; then why="exit $rc: $(grep -v '^\s*$' "$out/stderr" | tail -1 | cut -c1-80)"
      elif [ "$route" != ok ]; then why="upstream $route"
      elif [ "$calls" -lt "$want_calls" ]; then why="$calls upstream call(s), want $want_calls"
      elif ! grep -q "$want" "$out/stdout"; then
        why="'$want' not in output: $(tr '\n' ' ' < "$out/stdout" | cut -c1-60)"
      elif [ "$kind" = text ] && ! grep -q "say hello" "$out/stdout"; then
        why="answer truncated: $(tr '\n' ' ' < "$out/stdout" | cut -c1-60)"
      fi
      [ -n "$why" ] && { result="FAIL ($why)"; FAILED=1; }
      row "$cli" "$vendor" "$model" "$kind" "$rc" "$secs" "$calls x $vendor" "$result"
      echo "${ROWS[-1]}" >&2
    done
  done
done

echo
printf '%s\n' "${ROWS[@]}"
if [ "$FAILED" != 0 ]; then
  echo "smoke: FAILED (KEEP=1 keeps each run's stdout/stderr and the gateway log)"; exit 1
fi
echo "smoke: all passed"
