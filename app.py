#!/usr/bin/env python3
"""The CDK app: builds the bulk email sender stack from context (cdk.json and -c), nothing else."""

import aws_cdk as cdk

from stacks.bulk_email_stack import build

app = cdk.App()
build(app)
app.synth()
