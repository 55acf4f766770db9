#!/usr/bin/env bash
# The project's test command (README "Quick start"; CI runs it through .ci/run).
#
# Unless AWS_ENDPOINT_URL_DYNAMODB already names a DynamoDB endpoint, it installs moto's server
# from PyPI into a cache outside the clone, starts it (scripts/dynamodb-endpoint.py) on a free
# loopback port, runs every test of the workspace against it, and stops it. Arguments go to
# `cargo test` (test-binary arguments after `--`, as usual).
#
# It first generates the prompt packs (scripts/prompt-packs.sh: espeak-ng and sox, installed with
# apt-get when missing). Tests that need DynamoDB or the packs are #[ignore]d, so that a plain `cargo test` without an endpoint
# shows them as ignored; here they run, with --include-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  # The endpoint conflicts like DynamoDB under contention (scripts/dynamodb-endpoint.py);
  # DYNAMODB_ENDPOINT_CONFLICTS=0 turns that off.
  export DYNAMODB_ENDPOINT_CONFLICTS="${DYNAMODB_ENDPOINT_CONFLICTS:-1}"
  . scripts/moto.sh
  start_dynamodb_endpoint moto.log
  export AWS_ENDPOINT_URL_DYNAMODB="$MOTO_ENDPOINT"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  # The endpoint's own contention mode (DynamoDB's transaction conflicts and per-item
  # throttling, off unless asked for) proves itself on its own endpoint: a few seconds.
  env -u DYNAMODB_ENDPOINT_CONFLICTS "$moto_python" scripts/test-dynamodb-endpoint.py >"$CACHE/test-dynamodb-endpoint.log" 2>&1 ||
    { cat "$CACHE/test-dynamodb-endpoint.log" >&2; exit 1; }
else
  echo "test.sh: using the DynamoDB endpoint $AWS_ENDPOINT_URL_DYNAMODB" >&2
fi

# The prompt packs the language tests play (espeak-ng starter audio, in prompts/, which git
# ignores; regenerated only where the words changed).
./scripts/prompt-packs.sh

args=("$@")
case " ${args[*]} " in
  *" -- "*) args+=(--include-ignored) ;;
  *) args+=(-- --include-ignored) ;;
esac
cargo test --workspace "${args[@]}"
