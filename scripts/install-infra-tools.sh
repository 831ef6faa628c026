#!/usr/bin/env bash
# Installs the infrastructure checkers into .tools/, apart from the app's .venv:
# aws-sam-cli pins an older click (and its own boto3) than instructor/the app want.
# checkov's pins conflict with aws-sam-cli's too (pip: ResolutionImpossible), so it gets its
# own venv (.tools/checkov-venv) and a symlink in .tools/venv/bin: one bin dir for everything.
#
#   aws-sam-cli  `sam validate --lint`, `sam build`
#   cfn-lint     also what `sam validate --lint` runs; pinned inside sam-cli's range (<1.59)
#   checkov      static security checks of template.yaml
#   statelint    the PyPI port (taro-kayo/statelint) of awslabs' Ruby statelint, same CLI
#                (`statelint --ignore=URI,FLOAT file.asl.json`). The Ruby gem cannot be had
#                here: rubygems.org is not reachable from these machines (only PyPI, Debian
#                apt and npm are), so no `gem install statelint`.
#   asl-validator (npm, into .tools/node) validates against AWS's current ASL JSON schemas,
#                which know the Distributed Map fields statelint 3.1.0 predates. Skipped, with
#                a note, where npm is missing.
#
# Idempotent: a stamp file records the pinned set; a re-run with the same pins is a no-op.
# Usage: scripts/install-infra-tools.sh [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/.tools/venv"
CHECKOV_VENV="${ROOT}/.tools/checkov-venv"
STAMP="${VENV}/.infra-tools.stamp"

PINS=(
  "aws-sam-cli==1.170.0"
  "cfn-lint==1.58.0"
  "statelint==3.1.0"
)
CHECKOV_PIN="checkov==3.3.30"
ASL_VALIDATOR_PIN="asl-validator@4.0.0"
NODE_DIR="${ROOT}/.tools/node"
WANT="$(printf '%s\n' "${PINS[@]}" "${CHECKOV_PIN}" "${ASL_VALIDATOR_PIN}")"

if [[ "${1:-}" != "--force" && -f "${STAMP}" && "$(cat "${STAMP}")" == "${WANT}" \
      && -x "${VENV}/bin/sam" && -x "${CHECKOV_VENV}/bin/checkov" ]]; then
  echo "infra tools up to date in ${VENV}"
  exit 0
fi

# Any 3.10+ interpreter will do for the tools themselves; prefer the repo default (pyenv 3.11).
PY="${INFRA_TOOLS_PYTHON:-}"
if [[ -z "${PY}" ]]; then
  for cand in python3.11 python3.12 python3; do
    if command -v "${cand}" >/dev/null 2>&1 && "${cand}" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      PY="${cand}"; break
    fi
  done
fi
[[ -n "${PY}" ]] || { echo "need python >= 3.10 for the infra tools" >&2; exit 1; }

pip_install() {  # venv, requirement...
  local venv="$1"; shift
  [[ -x "${venv}/bin/python" ]] || "${PY}" -m venv "${venv}"
  # (the grep drops pip's noise about local mirror paths that this machine's pip.conf names)
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

pip_install "${VENV}" "${PINS[@]}"
pip_install "${CHECKOV_VENV}" "${CHECKOV_PIN}"
ln -sf "${CHECKOV_VENV}/bin/checkov" "${VENV}/bin/checkov"

if command -v npm >/dev/null 2>&1; then
  mkdir -p "${NODE_DIR}"
  npm install --prefix "${NODE_DIR}" --no-audit --no-fund --silent --save-exact "${ASL_VALIDATOR_PIN}"
else
  echo "npm not found: asl-validator not installed (check-infra.sh will skip it)" >&2
fi

printf '%s\n' "${WANT}" > "${STAMP}"
echo "installed into ${VENV}:"
"${VENV}/bin/sam" --version
"${VENV}/bin/cfn-lint" --version
echo "checkov $("${VENV}/bin/checkov" --version)"
"${VENV}/bin/python" -m pip show statelint 2>/dev/null | sed -n 's/^Version: /statelint /p'
[[ -x "${NODE_DIR}/node_modules/.bin/asl-validator" ]] && echo "asl-validator $("${NODE_DIR}/node_modules/.bin/asl-validator" --version)"
exit 0
