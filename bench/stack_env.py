"""The sender function's environment as `cdk deploy` sets it: read from the synthesized template.

The default app (cdk.json's context, bundling skipped: the code asset is not read) is
synthesized in a fresh process and the sender function's `Environment.Variables` taken from
its template; the CloudFormation references in them (`Ref`, `Fn::GetAtt`, `Fn::Join`) are
resolved to plausible names (a queue's `Ref` is its URL, a table's its name). The template is
stacks/synthesized.py's, cached by the hash of what decides it, so a rerun of the benchmarks
(or the local run before them) does not pay the synth (about 15 s of jsii) again.

Nothing here restates a default: a change to the stack's defaults changes what is measured.
"""

from __future__ import annotations

import json
from typing import Any

from stacks.synthesized import REGION, default_template

ACCOUNT = "123456789012"


def sender_logical_id(template: dict[str, Any]) -> str:
    """The function the queue's event source mapping invokes."""
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        source = resource["Properties"]["EventSourceArn"]
        target = resource["Properties"]["FunctionName"]["Ref"]
        if "Queue" in json.dumps(source) and "Status" not in json.dumps(source):
            return target
    raise LookupError("no event source mapping from the send queue")


def resolve(value: Any, template: dict[str, Any]) -> str:
    """A plausible deployed value of a template expression."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(f"unexpected template value {value!r}")
    ((function, argument),) = value.items()
    if function == "Fn::Join":
        separator, parts = argument
        return separator.join(resolve(part, template) for part in parts)
    if function == "Fn::GetAtt":
        return f"arn:aws:{argument[0].lower()}:{REGION}:{ACCOUNT}:{argument[0]}"
    if function == "Ref":
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if argument in pseudo:
            return pseudo[argument]
        kind = template["Resources"][argument]["Type"]
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{argument}"
        if kind == "AWS::SecretsManager::Secret":
            return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{argument}-AbCdEf"
        return argument  # a table's, a bucket's, a configuration set's, an API's name or id
    raise ValueError(f"unexpected template function {function}")


def sender_settings(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sender's environment (resolved), memory, timeout and its mapping's batch size
    and maximum concurrency, as the default app deploys them."""
    template = template or default_template()
    logical_id = sender_logical_id(template)
    function = template["Resources"][logical_id]["Properties"]
    variables = function.get("Environment", {}).get("Variables", {})
    mapping = next(
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
        and resource["Properties"]["FunctionName"] == {"Ref": logical_id}
    )
    return {
        "environment": {name: resolve(value, template) for name, value in variables.items()},
        "memory_mb": function.get("MemorySize", 128),
        "timeout_s": function.get("Timeout", 3),
        "batch_size": mapping.get("BatchSize", 10),
        "max_concurrency": mapping.get("ScalingConfig", {}).get("MaximumConcurrency", 0),
    }


# Every feature the defaults turn on; "everything off" is the environment without them.
FEATURE_VARIABLES = (
    "IDEMPOTENCY_TABLE",
    "STATUS_TABLE",
    "UNSUBSCRIBE_URL",
    "UNSUBSCRIBE_MAILTO",
    "UNSUBSCRIBE_SECRET_ARN",
    "SUPPRESSION_TABLE",
    "ATTACHMENT_BUCKET",
    "ALLOWED_CONFIGURATION_SETS",
)


def features_off(environment: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environment.items() if k not in FEATURE_VARIABLES}
