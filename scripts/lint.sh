#!/usr/bin/env bash
# Offline checks of the SAM template: cfn-lint, `sam validate --lint` and plain `sam validate`
# (plain validate runs SAM's own translator and catches what --lint lets through, e.g. API key
# settings). No AWS account or network access to AWS is needed.
#
# Installs the pinned SAM toolchain from PyPI into a venv in a cache outside the clone
# (scripts/venv.sh; reused when present). Exits non-zero when any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh
sam_venv
VENV="$SAM_VENV"

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-ap-south-1}"
export AWS_REGION="${AWS_REGION:-$AWS_DEFAULT_REGION}"

status=0
run() {
  echo "lint.sh: $*" >&2
  if ! "$@"; then
    echo "lint.sh: FAILED: $*" >&2
    status=1
  fi
}

run "$VENV/bin/cfn-lint" template.yaml
run "$VENV/bin/sam" validate --lint --template-file template.yaml --region "$AWS_DEFAULT_REGION"
run "$VENV/bin/sam" validate --template-file template.yaml --region "$AWS_DEFAULT_REGION"

if [ "$status" -eq 0 ]; then
  echo "lint.sh: template.yaml passed cfn-lint, sam validate --lint and sam validate" >&2
fi
exit "$status"
