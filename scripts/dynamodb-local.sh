#!/usr/bin/env bash
# A local DynamoDB endpoint (the one the tests use) in the foreground, for the local server
# (OTP_TABLE) and `cargo lambda watch`: ./scripts/dynamodb-local.sh [PORT]   (default 8001)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
PORT="${1:-8001}"
echo "DynamoDB endpoint on http://127.0.0.1:$PORT (Ctrl-C stops it; data lives in memory)" >&2
exec "$moto_python" scripts/dynamodb-endpoint.py 127.0.0.1 "$PORT"
