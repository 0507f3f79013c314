#!/usr/bin/env bash
# npm run validate [-- TEMPLATE]: check template.yaml with the pinned SAM CLI and cfn-lint.
#
# SAM CLI is pinned and lives in a project-local, git-ignored virtualenv (.venv) so CI and every
# developer validate with the same translator and the same cfn-lint rules. The venv is created on
# first use (needs python3 with the venv module); later runs only check the pinned version.
#
# Three steps, because `sam validate --lint` alone misses a lot:
#   1. `sam validate`: runs the SAM translator (catches what only the translator refuses, e.g. a
#      non-alphanumeric WebSocket route key). `--lint` skips the translator entirely.
#   2. `sam validate --lint`: cfn-lint on the SAM template as written (SAM resource schemas,
#      refs, parameters, outputs).
#   3. cfn-lint on the translated CloudFormation: cfn-lint's SAM schemas do not look inside
#      policy documents, so a !GetAtt to a missing resource in a Policies statement, or a bad
#      generated role/route/permission, only shows up here.
# Every step must pass with no error, warning or informational finding.
set -euo pipefail

SAM_VERSION="1.170.0"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
template="${1:-$root/template.yaml}"

installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("aws-sam-cli"))' 2>/dev/null || true)"
if [[ "$installed" != "$SAM_VERSION" || ! -x "$venv/bin/sam" ]]; then
  echo "validate: installing aws-sam-cli==$SAM_VERSION into $venv (first run only)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_VERSION"
fi

# sam validate builds a boto3 session; it needs a region but never calls AWS for this template
# (no managed policy is named, so no IAM lookup). Dummy credentials keep it from searching for
# real ones, and from ever using them.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-AKIAIOSFODNN7EXAMPLE}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY}"
# No telemetry and no update check: CI has no network but the package registries.
export SAM_CLI_TELEMETRY=0
export SAM_CLI_DISABLE_VERSION_CHECK=1

translated="$(mktemp --suffix=.yaml)"
trap 'rm -f "$translated"' EXIT

start=$(date +%s%N)
echo "validate: 1/3 sam validate (SAM translator)" >&2
"$venv/bin/sam" validate --template-file "$template"
echo "validate: 2/3 sam validate --lint (cfn-lint on the SAM template)" >&2
"$venv/bin/sam" validate --lint --template-file "$template"
echo # sam prints this verdict without a trailing newline
echo "validate: 3/3 cfn-lint on the translated CloudFormation (informational findings included)" >&2
"$venv/bin/python" "$root/scripts/sam-translate.py" "$template" > "$translated"
"$venv/bin/cfn-lint" --include-checks I -- "$translated"
end=$(date +%s%N)
echo "validate: ok in $(( (end - start) / 1000000 )) ms (aws-sam-cli $SAM_VERSION, $("$venv/bin/cfn-lint" --version))" >&2
