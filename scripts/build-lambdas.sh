#!/usr/bin/env bash
# Builds the six Lambda bootstraps for arm64 (what template.yaml deploys) with cargo-lambda and
# zig, both from PyPI, into target/lambda/<function>/bootstrap. `sam build` does the same
# through BuildMethod rust-cargolambda. Pass --x86 for an x86_64 build instead.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${OTP_CALL_CACHE:-$HOME/.cache/otp-call}"
VENV="$CACHE/venv-cargo-lambda"
if [ ! -x "$VENV/bin/cargo-lambda" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check cargo-lambda ziglang
fi
export PATH="$VENV/bin:$PATH"
arch=--arm64
if [ "${1:-}" = "--x86" ]; then arch=--x86-64; else rustup target add aarch64-unknown-linux-gnu >/dev/null; fi
cargo lambda build --release "$arch" -p send-otp -p verify-otp -p otp-status -p answer -p otp-choice -p hangup
ls -l target/lambda/*/bootstrap
