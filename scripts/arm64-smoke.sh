#!/usr/bin/env bash
# The arm64 artifacts `sam build` made, run end to end on this x86 machine: each function's
# .aws-sam/build/<Name>Function/bootstrap under qemu-aarch64-static (Debian's qemu-user-static,
# with libc6-arm64-cross's aarch64 sysroot for the dynamic loader and glibc), against the
# benchmark harness's fake Lambda Runtime API in its correctness-only mode (`bench --check`):
# every events/*.json once through its function, then one cold start and three invokes per
# function, each reply checked, DynamoDB = moto (scripts/moto.sh), Vobiz = the harness's fake.
# Only correctness is checked under emulation, never timing (init takes ~100 ms+ there, and
# send-otp's first phone-number parse seconds).
#
#   ./scripts/arm64-smoke.sh              runs scripts/sam-build.sh first, then the check
#   ./scripts/arm64-smoke.sh --no-build   uses the bootstraps already in .aws-sam/build (CI:
#                                         the step before built them)
#
# Other arguments go to the harness (--invokes N, --only LABEL,...). Table on stdout, JSON in
# bench/out/arm64-check.json, the functions' logs in bench/out/logs/. Exits non-zero if any
# invocation failed or answered something unexpected. Installs the two Debian packages with
# apt-get when they are missing and it runs as root.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=1
ARGS=()
for a in "$@"; do
  if [ "$a" = --no-build ]; then BUILD=0; else ARGS+=("$a"); fi
done

SYSROOT=/usr/aarch64-linux-gnu
if ! command -v qemu-aarch64-static >/dev/null 2>&1 || [ ! -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "arm64-smoke.sh: installing qemu-user-static and libc6-arm64-cross" >&2
    pkgs=(qemu-user-static libc6-arm64-cross)
    apt-get install -y -qq "${pkgs[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${pkgs[@]}" >/dev/null; }
  fi
  if ! command -v qemu-aarch64-static >/dev/null 2>&1 || [ ! -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ]; then
    echo "arm64-smoke.sh: needs qemu-aarch64-static and $SYSROOT (apt-get install qemu-user-static libc6-arm64-cross)" >&2
    exit 1
  fi
fi
RUNNER="$(command -v qemu-aarch64-static) -L $SYSROOT"

if [ "$BUILD" = 1 ]; then
  ./scripts/sam-build.sh
fi

# The harness itself is an x86 binary: built with the same packages as bench.sh's smoke run, so
# after that run (CI) this is a no-op and no dependency is compiled again with other features.
cargo build -p send-otp -p verify-otp -p otp-status -p cancel-otp -p erase-number -p answer -p otp-choice -p hangup -p otp-events -p devserver -p bench
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
mkdir -p bench/out

if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  . scripts/moto.sh
  start_dynamodb_endpoint moto-arm64-smoke.log
  ENDPOINT="$MOTO_ENDPOINT"
else
  ENDPOINT="$AWS_ENDPOINT_URL_DYNAMODB"
fi

"$TARGET_DIR/debug/bench" --check --sam-build-dir .aws-sam/build --runner "$RUNNER" --endpoint "$ENDPOINT" \
  --out bench/out/arm64-check.json "${ARGS[@]}"
