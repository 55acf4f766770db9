# Sourced by the scripts that need a DynamoDB endpoint: installs moto's server from PyPI into a
# cache outside the clone (once) and defines `moto_python`, the interpreter that runs
# scripts/dynamodb-endpoint.py.
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
MOTO_VERSION="5.2.5"
MOTO_VENV="$CACHE/venv-moto-$MOTO_VERSION"
pip_venv "$MOTO_VENV" moto_server "moto[server]==$MOTO_VERSION"
moto_python="$MOTO_VENV/bin/python"

# Starts scripts/dynamodb-endpoint.py on a free loopback port, stops it when the calling script
# exits, waits until it answers, and sets MOTO_ENDPOINT. $1 names the log file under $CACHE.
start_dynamodb_endpoint() {
  local log="$CACHE/$1" port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # moto's server with requests serialised: see scripts/dynamodb-endpoint.py for why.
  "$moto_python" scripts/dynamodb-endpoint.py 127.0.0.1 "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true' EXIT
  MOTO_ENDPOINT="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "$MOTO_ENDPOINT/moto-api/"; then break; fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then echo "the DynamoDB endpoint died; see $log" >&2; exit 1; fi
    sleep 0.2
  done
  echo "DynamoDB endpoint (moto) at $MOTO_ENDPOINT" >&2
}
