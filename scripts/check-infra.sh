#!/usr/bin/env bash
# Static checks of the infrastructure, all offline:
#   1. sam validate --lint              (SAM transform + cfn-lint on the transformed template)
#   2. cfn-lint template.yaml
#   3. checkov -f template.yaml         (0 failed; skips are justified in each resource's Metadata)
#   4. statelint --ignore=URI,FLOAT     on statemachine/*.asl.json (PyPI port of awslabs/statelint)
#   5. asl-validator                    on statemachine/*.asl.json (npm; AWS's current ASL schemas)
#   6. with --build: sam build          (python3.12 on PATH via pyenv; downloads arm64 wheels from PyPI),
#      then scripts/check_build.py      (cp312/aarch64 extensions, under 250 MB unzipped, what the shared layer ships)
# Tools come from scripts/install-infra-tools.sh (.tools/). Exit status is non-zero if any check fails.
# Usage: scripts/check-infra.sh [--build]
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
TOOLS="${ROOT}/.tools/venv/bin"
ASL_VALIDATOR="${ROOT}/.tools/node/node_modules/.bin/asl-validator"

if [[ ! -x "${TOOLS}/sam" ]]; then
  echo "infra tools missing: run scripts/install-infra-tools.sh" >&2
  exit 2
fi
export PATH="${TOOLS}:${PATH}"
export SAM_CLI_TELEMETRY=0
# sam validate needs a region to resolve partition/region pseudo parameters; nothing is called.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"

failures=()
run() {  # name, command...
  local name="$1"; shift
  echo "==> ${name}"
  if "$@"; then
    echo "    ok: ${name}"
  else
    echo "    FAILED: ${name}" >&2
    failures+=("${name}")
  fi
}

# statelint 3.1.0 predates two parts of the Distributed Map that AWS accepts (and moto needs):
#  - ItemReader.ReaderConfig.InputType (JSON/JSONL/CSV/MANIFEST/PARQUET readers), and
#  - a non-integer ToleratedFailurePercentage (AWS takes a number 0-100; moto 5.2.5 rejects an
#    integer, see DESIGN.md), so `100.0` is flagged as "should be an Integer".
# Exactly these messages are set aside (and printed); any other statelint problem fails.
STATELINT_KNOWN_FALSE_POSITIVES='(ToleratedFailurePercentage is [0-9.]+ but should be an Integer|Field "InputType" not allowed in .*\.ItemReader\.ReaderConfig)$'
statelint_files() {
  local rc=0 file out problems
  for file in "$@"; do
    out="$(statelint --ignore=URI,FLOAT "${file}" 2>&1)" && { echo "    ${file}: valid"; continue; }
    problems="$(printf '%s\n' "${out}" | grep -E '^ ' || true)"
    if [[ -z "${problems}" ]]; then  # not a list of problems: a crash or a usage error
      printf '%s\n' "${out}" >&2; rc=1; continue
    fi
    printf '%s\n' "${problems}" | grep -E -- "${STATELINT_KNOWN_FALSE_POSITIVES}" \
      | sed "s|^ *|    ${file}: known statelint false positive: |"
    if printf '%s\n' "${problems}" | grep -Ev -- "${STATELINT_KNOWN_FALSE_POSITIVES}" \
        | sed "s|^ *|    ${file}: |" >&2; then
      rc=1
    else
      echo "    ${file}: valid (apart from the known false positives above)"
    fi
  done
  return "${rc}"
}

asl_validator_files() {
  local rc=0 file
  for file in "$@"; do
    "${ASL_VALIDATOR}" --json-path "${file}" || rc=1
  done
  return "${rc}"
}

shopt -s nullglob
ASL_FILES=(statemachine/*.asl.json)
shopt -u nullglob

run "sam validate --lint" sam validate --lint --template template.yaml
run "cfn-lint" cfn-lint template.yaml
# --skip-download: no call to the Prisma Cloud API for guidelines (these machines are offline).
run "checkov" checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download
if ((${#ASL_FILES[@]})); then
  run "statelint" statelint_files "${ASL_FILES[@]}"
  if [[ -x "${ASL_VALIDATOR}" ]]; then
    run "asl-validator" asl_validator_files "${ASL_FILES[@]}"
  else
    echo "==> asl-validator: skipped (npm was not available to scripts/install-infra-tools.sh)"
  fi
else
  echo "==> no statemachine/*.asl.json" >&2
  failures+=("asl files")
fi

if [[ "${1:-}" == "--build" ]]; then
  # sam build looks for python3.12 on PATH; pyenv provides it here.
  if command -v pyenv >/dev/null 2>&1 && [[ -z "${PYENV_VERSION:-}" ]]; then
    export PYENV_VERSION="3.11.7:3.12.1:3.13.0"
  fi
  run "sam build" sam build --template template.yaml
  run "build contents" "${TOOLS}/python" scripts/check_build.py .aws-sam/build
fi

echo
if ((${#failures[@]})); then
  echo "infra checks FAILED: ${failures[*]}" >&2
  exit 1
fi
echo "infra checks passed"
