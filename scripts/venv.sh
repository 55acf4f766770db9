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
