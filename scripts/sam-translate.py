"""Print the CloudFormation that SAM's translator makes of a template (for cfn-lint to check).

This is what plain `sam validate` does (run the translator), minus two traps: `sam validate`
reads samconfig.toml, whose `lint = true` turns it into `sam validate --lint`, which never runs
the translator; and it prints nothing we could lint.

`sam validate --lint` runs cfn-lint on the SAM template as written; it never runs the SAM
translator, and cfn-lint's SAM schemas leave the policy documents and the generated resources
(roles, routes, integrations, permissions) unchecked. This runs the translator the way
`sam validate` does (local CodeUri replaced by a dummy S3 URI) and prints the result, so
scripts/validate.sh can lint what CloudFormation will really receive.

Usage: .venv/bin/python scripts/sam-translate.py template.yaml > translated.yaml
"""

import sys

from samcli.commands.validate.lib.exceptions import InvalidSamDocumentException
from samcli.lib.translate.sam_template_validator import SamTemplateValidator
from samcli.yamlhelper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policy by name, so the IAM lookup must never be needed."""

    def load(self):
        raise SystemExit("sam-translate: the template names a managed policy by name; use an ARN")


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: sam-translate.py TEMPLATE")
    with open(sys.argv[1], encoding="utf-8") as f:
        template = yaml_parse(f.read())
    validator = SamTemplateValidator(template, NoManagedPolicies(), region="us-east-1")
    try:
        sys.stdout.write(validator.get_translated_template_if_valid())
    except InvalidSamDocumentException as error:
        raise SystemExit(f"{sys.argv[1]} is not a valid SAM template: {error}") from None


if __name__ == "__main__":
    main()
