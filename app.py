#!/usr/bin/env python3
"""The CDK app: builds the bulk email sender stack from context (cdk.json and -c), nothing else.

A bad context value or template file stops it with one line naming the key or file. A
placeholder sending identity (``example.com``) is a warning on synth and an error on
``make deploy``, which sets ``BULKMAIL_DEPLOY=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import aws_cdk as cdk

from stacks.bulk_email_stack import build
from stacks.settings import Settings, SettingsError
from stacks.template_files import TemplateFileError

DEPLOY_ENV = "BULKMAIL_DEPLOY"


def main(app: cdk.App, environ: Mapping[str, str]) -> int:
    try:
        warning = Settings.from_node(app.node).check_placeholders(
            deploying=environ.get(DEPLOY_ENV) == "1"
        )
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        build(app)
    except (SettingsError, TemplateFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main(cdk.App(), os.environ))
