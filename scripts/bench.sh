#!/usr/bin/env bash
# The benchmark harness (bench/README.md): cold starts, round trips, memory and size of the Lambda
# functions against their floors (erase-number has no case of its own yet), and the local server
# under load.
#
#   ./scripts/bench.sh            full run: release binaries, 1 000 warm invokes per function,
#                                 15 cold starts each, wrk 10 s per route and connection count;
#                                 the table goes to stdout, the JSON to bench/out/latest.json
#   ./scripts/bench.sh --smoke    CI's run: dev-profile binaries, 20 invokes, 1 cold start, wrk
#                                 2 s if installed (skipped otherwise); bench/out/smoke.json
#   ./scripts/bench.sh --profiles [VARIANT...]
#                                 what each release-profile setting buys: builds send-otp,
#                                 otp-status and the harness under variants of [profile.release]
#                                 (cargo --config, Cargo.toml untouched; each variant compiles
#                                 every dependency again: 10-20 min each on 2 cores) and measures
#                                 them; bench/out/profiles.md. Variants: baseline opt3 opt-s
#                                 no-lto unwind phonenumber-3 (default: all)
#   ./scripts/bench.sh --cost     what one verification costs, alone: release binaries of its six
#                                 functions, 100 warm invokes of each route for the durations,
#                                 then the verification; the table to stdout, bench/out/cost.json
#
# Other arguments go to the harness (--invokes N, --inits K, --load-secs S, --no-load, --only
# LABEL,...). It exits non-zero if any invocation fails, answers a 5xx or an unexpected reply.
#
# Unless AWS_ENDPOINT_URL_DYNAMODB already names a DynamoDB endpoint, it starts the tests' one
# (moto, requests serialised: scripts/dynamodb-endpoint.py) on a free loopback port and stops it
# on exit. The harness puts a counting proxy in front of whichever endpoint it is given.
# Other arguments after --cost go to the harness too (--invokes N).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=full
if [ "${1:-}" = "--profiles" ]; then
  MODE=profiles
  shift
elif [ "${1:-}" = "--cost" ]; then
  MODE=cost
else
  for a in "$@"; do
    if [ "$a" = "--smoke" ]; then MODE=smoke; fi
  done
fi

PACKAGES=(-p send-otp -p verify-otp -p otp-status -p cancel-otp -p erase-number -p answer -p otp-choice -p hangup -p otp-events -p devserver -p bench)
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
mkdir -p bench/out

start_endpoint() {
  if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
    . scripts/moto.sh
    start_dynamodb_endpoint moto-bench.log
    ENDPOINT="$MOTO_ENDPOINT"
  else
    ENDPOINT="$AWS_ENDPOINT_URL_DYNAMODB"
    echo "bench.sh: using the DynamoDB endpoint $ENDPOINT" >&2
  fi
}

if [ "$MODE" = profiles ]; then
  # name | overrides of [profile.release] (space-separated key=value, TOML values)
  ALL_VARIANTS=(
    "baseline|"
    "opt3|opt-level=3"
    "opt-s|opt-level=\"s\""
    "no-lto|lto=false codegen-units=16"
    "unwind|panic=\"unwind\""
    # Cargo.toml compiled these at opt-level 3 until send-otp's metadata became per calling code;
    # this variant measures what 3 would still buy.
    "phonenumber-3|package.phonenumber.opt-level=3 package.regex-cache.opt-level=3 package.regex.opt-level=3 package.regex-syntax.opt-level=3 package.regex-automata.opt-level=3 package.postcard.opt-level=3"
  )
  WANT=("$@")
  start_endpoint
  RESULTS=()
  for v in "${ALL_VARIANTS[@]}"; do
    name="${v%%|*}"
    overrides="${v#*|}"
    if [ "${#WANT[@]}" -gt 0 ] && [[ " ${WANT[*]} " != *" $name "* ]]; then continue; fi
    if [ "$name" = baseline ]; then
      # The full run's build (same packages, so the same features: no rebuild after it).
      cargo build --release "${PACKAGES[@]}"
      dir="$TARGET_DIR/release"
    else
      profile="bench-$name"
      args=(--config "profile.$profile.inherits=\"release\"")
      for kv in $overrides; do args+=(--config "profile.$profile.$kv"); done
      echo "bench.sh: building variant $name ($overrides)" >&2
      cargo build --profile "$profile" "${args[@]}" -p send-otp -p otp-status -p bench
      dir="$TARGET_DIR/$profile"
    fi
    "$dir/bench" --bin-dir "$dir" --profile "$name" --endpoint "$ENDPOINT" --only send-otp,otp-status --no-load \
      --invokes "${BENCH_PROFILE_INVOKES:-200}" --inits "${BENCH_PROFILE_INITS:-15}" \
      --out "bench/out/profile-$name.json" >"bench/out/profile-$name.md"
    RESULTS+=("$name|$overrides")
  done
  python3 - "${RESULTS[@]}" >bench/out/profiles.md <<'EOF'
import json, sys
rows = []
print("| variant | overrides of [profile.release] | send-otp MB | otp-status MB | hello MB | send-otp init ms | otp-status init ms | hello init ms | send-otp cold-path CPU ms | otp-status cold-path CPU ms | hello cold-path CPU ms | otp-status first invoke ms | first Phone::parse ms | send-otp warm p50 ms | otp-status warm p50 ms | send-otp RSS MB |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for arg in sys.argv[1:]:
    name, overrides = arg.split("|", 1)
    d = json.load(open(f"bench/out/profile-{name}.json"))
    f = {x["binary"]: x for x in d["functions"]}
    mb = lambda b: f"{b / 1e6:.2f}" if b else "–"
    g = lambda k, *path: (lambda v: f"{v:.2f}" if isinstance(v, (int, float)) else "–")(
        (lambda x: [x := (x or {}).get(p) for p in path][-1])(f.get(k)))
    pp = d.get("init_breakdown", {}).get("first Phone::parse (phonenumber metadata)", {}).get("p50_ms")
    print(f"| {name} | {overrides or '(as in Cargo.toml)'} | {mb(f['send-otp']['binary_bytes'])} | {mb(f['otp-status']['binary_bytes'])} | {mb(f['hello']['binary_bytes'])} "
          f"| {g('send-otp', 'init', 'p50_ms')} | {g('otp-status', 'init', 'p50_ms')} | {g('hello', 'init', 'p50_ms')} "
          f"| {g('send-otp', 'cold_path_cpu', 'p50_ms')} | {g('otp-status', 'cold_path_cpu', 'p50_ms')} | {g('hello', 'cold_path_cpu', 'p50_ms')} | {g('otp-status', 'first_invoke', 'p50_ms')} "
          f"| {pp if pp is None else f'{pp:.2f}'} | {g('send-otp', 'warm', 'p50_ms')} | {g('otp-status', 'warm', 'p50_ms')} | {mb(f['send-otp']['peak_rss_bytes'])} |")
EOF
  cat bench/out/profiles.md
  exit 0
fi

if [ "$MODE" = cost ]; then
  cargo build --release -p send-otp -p answer -p otp-choice -p hangup -p verify-otp -p otp-status -p bench
  start_endpoint
  "$TARGET_DIR/release/bench" --bin-dir "$TARGET_DIR/release" --profile release --endpoint "$ENDPOINT" "$@"
  exit 0
fi

if [ "$MODE" = smoke ]; then
  cargo build "${PACKAGES[@]}"
  BIN="$TARGET_DIR/debug"
  PROFILE=dev
else
  cargo build --release "${PACKAGES[@]}"
  BIN="$TARGET_DIR/release"
  PROFILE=release
fi

# wrk for the load test: Debian's package. The full run installs it when it can; the smoke run
# skips the load test without it.
if ! command -v wrk >/dev/null 2>&1 && [ "$MODE" = full ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "bench.sh: installing wrk" >&2
  (apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1; }) \
    || echo "bench.sh: could not install wrk; the load test will be skipped" >&2
fi

start_endpoint
"$BIN/bench" --bin-dir "$BIN" --profile "$PROFILE" --endpoint "$ENDPOINT" "$@"
