#!/usr/bin/env bash
# npm run validate [-- TEMPLATE]: check template.yaml with the pinned SAM CLI and cfn-lint.
#
# SAM CLI is pinned and lives in a project-local, git-ignored virtualenv (.venv) so CI and every
# developer validate with the same translator and the same cfn-lint rules. The venv is created on
# first use (needs python3 with the venv module); later runs only check the pinned version.
#
# Two steps, because `sam validate --lint` alone misses a lot:
#   1. `sam validate --lint`: cfn-lint on the SAM template as written (SAM resource schemas,
#      refs, parameters, outputs). It never runs the SAM translator.
#   2. The SAM translator (scripts/sam-translate.py, what plain `sam validate` runs; it catches
#      what only the translator refuses, e.g. a non-alphanumeric WebSocket route key), then
#      cfn-lint on the CloudFormation it produces: cfn-lint's SAM schemas do not look inside
#      policy documents, so a !GetAtt to a missing resource in a Policies statement, or a bad
#      generated role/route/permission, only shows up here.
#   (Plain `sam validate` is not a step: samconfig.toml's `lint = true` makes it step 1 again.)
# Every step must pass with no error, warning or informational finding.
set -euo pipefail

SAM_VERSION="1.170.0"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
template="${1:-$root/template.yaml}"

installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("aws-sam-cli"))' 2>/dev/null || true)"
if [[ "$installed" != "$SAM_VERSION" || ! -x "$venv/bin/sam" ]]; then
  echo "validate: installing aws-sam-cli==$SAM_VERSION into $venv (first run only)" >&2
  command -v python3 >/dev/null || { echo "validate: python3 is needed for SAM CLI (apt-get install -y python3 python3-venv)" >&2; exit 1; }
  python3 -m venv "$venv" || { rm -rf "$venv"; echo "validate: python3 -m venv failed; on Debian/Ubuntu: apt-get install -y python3-venv" >&2; exit 1; }
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
echo "validate: 1/2 sam validate --lint (cfn-lint on the SAM template)" >&2
"$venv/bin/sam" validate --lint --template-file "$template"
echo # sam prints this verdict without a trailing newline
echo "validate: 2/2 SAM translator, then cfn-lint on its CloudFormation (informational findings included)" >&2
"$venv/bin/python" "$root/scripts/sam-translate.py" "$template" > "$translated"
"$venv/bin/cfn-lint" --include-checks I -- "$translated"
end=$(date +%s%N)
echo "validate: ok in $(( (end - start) / 1000000 )) ms (aws-sam-cli $SAM_VERSION, $("$venv/bin/cfn-lint" --version))" >&2
