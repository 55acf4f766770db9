#!/usr/bin/env bash
# Contract test: checks that what the local server really answers conforms to openapi.yaml.
#
# Installs schemathesis from PyPI into a venv in a cache outside the clone (reused when
# present), builds the local server and starts it on a free loopback port (in-memory store,
# simulated calls, a throwaway APP_API_KEY, ALLOWED_REGIONS=IN), then lets schemathesis
# send schema-derived valid and invalid requests to the three app routes and check every
# response: no 5xx, the status code is documented for the operation, the Content-Type is
# documented, the body matches the response schema and the documented headers (Retry-After,
# Cache-Control) are present and well-formed. Stops the server on exit; exits non-zero on any
# failure, on a crash of the server, or on a panic in its log.
#
# Environment: OTP_CALL_CACHE (cache directory, default ~/.cache/otp-call),
# CONTRACT_MAX_EXAMPLES (test cases per operation and phase, default 200),
# CONTRACT_SEED (replay a run with the seed it printed), CARGO_TARGET_DIR.
# Arguments are passed on to `schemathesis run`.
#
# The server legitimately answers many sends with 429 (30 s cooldown and 5 sends an hour per
# number, 60 calls a minute overall); openapi.yaml documents that.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh
SCHEMATHESIS_VERSION="4.32.5"
VENV="$CACHE/venv-schemathesis-$SCHEMATHESIS_VERSION"
LOG="$CACHE/contract-devserver.log"
pip_venv "$VENV" schemathesis "schemathesis==$SCHEMATHESIS_VERSION"

cargo build -q -p devserver
BIN="${CARGO_TARGET_DIR:-target}/debug/devserver"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
API_KEY="contract-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
BASE="http://127.0.0.1:$PORT"

# A clean local configuration whatever the caller's environment holds: in-memory store,
# simulated calls (their webhooks come back to this server), default limits.
env -u OTP_TABLE -u VOBIZ_AUTH_ID -u VOBIZ_AUTH_TOKEN -u FROM_NUMBER -u PUBLIC_URL -u OTP_CREATE_TABLE \
  -u SEND_COOLDOWN_SECONDS -u SENDS_PER_HOUR -u CALLS_PER_MINUTE -u MAX_FAILURES_PER_DAY \
  -u OTP_LENGTH -u OTP_TTL_SECONDS -u OTP_MAX_ATTEMPTS -u OTP_MAX_REPEATS -u ALLOWED_COUNTRY_CODES \
  HTTP_PORT="$PORT" APP_API_KEY="$API_KEY" ALLOWED_REGIONS=IN \
  "$BIN" >"$LOG" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT

answering() {
  [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$BASE/otp-status/919876543210" || true)" != "000" ]
}
for i in $(seq 1 150); do
  if answering; then break; fi
  if [ "$i" -eq 150 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "contract.sh: the local server did not start; see $LOG" >&2
    tail -n 20 "$LOG" >&2
    exit 1
  fi
  sleep 0.1
done
echo "contract.sh: local server at $BASE (log: $LOG)" >&2

# Schemathesis keeps its crash files (for `schemathesis replay`) in .schemathesis/ and
# Hypothesis its caches in .hypothesis/ of the working directory unless told otherwise: keep
# both in the cache, out of the clone.
ST_CONFIG="$CACHE/contract-schemathesis.toml"
printf '[cache]\ndirectory = "%s"\n' "$CACHE/schemathesis" >"$ST_CONFIG"
export HYPOTHESIS_STORAGE_DIRECTORY="$CACHE/hypothesis"

seed=()
if [ -n "${CONTRACT_SEED:-}" ]; then seed=(--seed "$CONTRACT_SEED"); fi

status=0
"$VENV/bin/schemathesis" --config-file "$ST_CONFIG" run openapi.yaml \
  --url "$BASE" \
  --header "x-api-key: $API_KEY" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method \
  --max-examples "${CONTRACT_MAX_EXAMPLES:-200}" \
  --continue-on-failure \
  --request-timeout 10 \
  --generation-database none \
  "${seed[@]}" "$@" || status=$?

# Still there and still answering? (`kill -0` alone succeeds on an unreaped dead child.)
if ! answering; then
  state=$(awk '{print $3}' "/proc/$SERVER_PID/stat" 2>/dev/null || echo gone)
  echo "contract.sh: the local server stopped answering during the run (process state: $state); see $LOG" >&2
  tail -n 20 "$LOG" >&2
  status=1
fi
if grep -q "panicked" "$LOG"; then
  echo "contract.sh: the local server panicked; see $LOG" >&2
  grep -n -A3 "panicked" "$LOG" | head -n 20 >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "contract.sh: FAILED (exit $status)" >&2
else
  echo "contract.sh: every response conformed to openapi.yaml" >&2
fi
exit "$status"
