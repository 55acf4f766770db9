# Sourced by the scripts that need a DynamoDB endpoint: installs moto's server from PyPI into a
# cache outside the clone (once) and defines `moto_python`, the interpreter that runs
# scripts/dynamodb-endpoint.py.
CACHE="${OTP_CALL_CACHE:-$HOME/.cache/otp-call}"
MOTO_VERSION="5.2.5"
MOTO_VENV="$CACHE/venv-moto-$MOTO_VERSION"
mkdir -p "$CACHE"
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
  echo "installing moto[server]==$MOTO_VERSION into $MOTO_VENV" >&2
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
moto_python="$MOTO_VENV/bin/python"
