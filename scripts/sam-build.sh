#!/usr/bin/env bash
# `sam build` of template.yaml, as a deploy runs it: BuildMethod rust-cargolambda, arm64, the
# release profile. Leaves each function's bootstrap in .aws-sam/build/<Name>Function/bootstrap
# (what `sam deploy` uploads), checks that each is an aarch64 executable and prints its size.
#
#   ./scripts/sam-build.sh [SAM BUILD ARGUMENTS...]
#
# The pinned SAM CLI, cargo-lambda and zig come from PyPI (scripts/venv.sh); the aarch64 Rust
# target from rustup. Compiled dependencies are cached outside the clone, in
# $OTP_CALL_ARM64_TARGET_DIR (default ~/.cache/otp-call/target-arm64), apart from the x86 target
# directory the tests use so neither build evicts the other's artifacts.
#
# How SAM finds that directory (aws-lambda-builders, workflows/rust_cargo): for each function it
# runs `cargo lambda build --release --arm64 --bin <Binary>` in CodeUri (the workspace root),
# passing CARGO_TARGET_DIR through when it is set (else it sets it to `cargo metadata`'s
# target_directory), and then copies <target_directory>/lambda/<Binary>/bootstrap, where
# target_directory again comes from `cargo metadata`, which honours CARGO_TARGET_DIR. So
# exporting CARGO_TARGET_DIR for `sam build` moves both the build and the copy; nothing else
# (no `--cached`, whose hash would cover the whole workspace) is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh
sam_venv
export PATH="$SAM_VENV/bin:$PATH"
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi

export CARGO_TARGET_DIR="${OTP_CALL_ARM64_TARGET_DIR:-$CACHE/target-arm64}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-ap-south-1}"
export AWS_REGION="${AWS_REGION:-$AWS_DEFAULT_REGION}"
echo "sam-build.sh: sam build (arm64, release) with CARGO_TARGET_DIR=$CARGO_TARGET_DIR" >&2
sam build "$@"

# Every function of the template, checked: an ELF for aarch64 (e_machine 183), and its size.
python3 - template.yaml .aws-sam/build <<'EOF'
import os, re, struct, sys
template, build = sys.argv[1], sys.argv[2]
names = re.findall(r"^  (\w+Function):\n    Type: AWS::Serverless::Function", open(template).read(), re.M)
if not names:
    sys.exit("sam-build.sh: no AWS::Serverless::Function found in " + template)
bad = False
print("| function | bootstrap | bytes | MB |")
print("|---|---|---|---|")
for name in names:
    path = os.path.join(build, name, "bootstrap")
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError as e:
        print(f"sam-build.sh: {name}: {e}", file=sys.stderr)
        bad = True
        continue
    if head[:4] != b"\x7fELF" or struct.unpack("<H", head[18:20])[0] != 183:
        print(f"sam-build.sh: {path} is not an aarch64 ELF executable", file=sys.stderr)
        bad = True
    size = os.path.getsize(path)
    print(f"| {name} | {path} | {size} | {size / 1e6:.2f} |")
sys.exit(1 if bad else 0)
EOF
