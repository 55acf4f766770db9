#!/usr/bin/env bash
# The project's test command (README "Quick start"; CI runs it through .ci/run).
#
# Unless AWS_ENDPOINT_URL_DYNAMODB already names a DynamoDB endpoint, it installs moto's server
# from PyPI into a cache outside the clone, starts it (scripts/dynamodb-endpoint.py) on a free
# loopback port, runs every test of the workspace against it, and stops it. Arguments go to
# `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  . scripts/moto.sh
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # moto's server with requests serialised: see scripts/dynamodb-endpoint.py for why.
  "$moto_python" scripts/dynamodb-endpoint.py 127.0.0.1 "$PORT" >"$CACHE/moto.log" 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true' EXIT
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$PORT"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/moto-api/"; then break; fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then echo "test.sh: the DynamoDB endpoint died; see $CACHE/moto.log" >&2; exit 1; fi
    sleep 0.2
  done
  echo "test.sh: DynamoDB endpoint (moto) at $AWS_ENDPOINT_URL_DYNAMODB" >&2
else
  echo "test.sh: using the DynamoDB endpoint $AWS_ENDPOINT_URL_DYNAMODB" >&2
fi

# Tests that need DynamoDB fail, instead of skipping, when no endpoint is reachable.
export OTP_TEST_REQUIRE_DYNAMODB=1
cargo test --workspace "$@"
