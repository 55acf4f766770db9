# Sourced by the scripts that run Python tools (moto, schemathesis, cfn-lint, sam): installs
# pinned packages from PyPI into a venv in a cache outside the clone, once, and reuses it.
CACHE="${OTP_CALL_CACHE:-$HOME/.cache/otp-call}"
mkdir -p "$CACHE"

# pip_venv VENV "EXECUTABLE..." REQUIREMENT...
# Makes $VENV with the REQUIREMENTs unless every EXECUTABLE is already in $VENV/bin; a venv
# left half-made by an interrupted install is made again from scratch.
pip_venv() {
  local venv="$1" exes="$2" exe
  shift 2
  for exe in $exes; do
    if [ ! -x "$venv/bin/$exe" ]; then
      echo "installing $* into $venv" >&2
      rm -rf "$venv"
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
      return
    fi
  done
}

# The SAM toolchain, pinned, in one venv: cfn-lint and the SAM CLI (scripts/lint.sh), and the
# cargo-lambda + zig pair that `sam build`'s rust-cargolambda build method runs
# (scripts/sam-build.sh). Sets SAM_VENV; put "$SAM_VENV/bin" on PATH to use them.
CFN_LINT_VERSION="1.58.0"
SAM_CLI_VERSION="1.170.0"
CARGO_LAMBDA_VERSION="1.9.2"
ZIG_VERSION="0.17.1"
SAM_VENV="$CACHE/venv-sam$SAM_CLI_VERSION-cfn$CFN_LINT_VERSION-cl$CARGO_LAMBDA_VERSION-zig$ZIG_VERSION"
sam_venv() {
  pip_venv "$SAM_VENV" "sam cfn-lint cargo-lambda python-zig" "cfn-lint==$CFN_LINT_VERSION" \
    "aws-sam-cli==$SAM_CLI_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIG_VERSION"
}
# No telemetry or update checks from the SAM CLI.
export SAM_CLI_TELEMETRY=0 SAM_CLI_DISABLE_UPDATE_CHECK=1 SAM_CLI_BETA_FEATURES=0
