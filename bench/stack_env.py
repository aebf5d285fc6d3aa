"""The sender function's environment as `cdk deploy` sets it: read from the synthesized template.

The default app (cdk.json's context, bundling skipped: the code asset is not read) is
synthesized in a fresh process and the sender function's `Environment.Variables` taken from
its template; the CloudFormation references in them (`Ref`, `Fn::GetAtt`, `Fn::Join`) are
resolved to plausible names (a queue's `Ref` is its URL, a table's its name). The result is
cached under build/bench/ by the hash of what decides it (stacks/, cdk.json, app.py), so a
rerun of the benchmarks does not pay the synth (about 15 s of jsii) again.

Nothing here restates a default: a change to the stack's defaults changes what is measured.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from typing import Any

from bench.harness import ROOT

CACHE = ROOT / "build" / "bench"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
# What the event source mapping of the sender says (batch size, concurrency) is read too.
_SYNTH = r"""
import json, sys, tempfile
sys.path.insert(0, sys.argv[1])
import aws_cdk as cdk
from stacks.bulk_email_stack import build
context = json.load(open(sys.argv[1] + "/cdk.json"))["context"]
context["aws:cdk:bundling-stacks"] = []
out = tempfile.mkdtemp()
app = cdk.App(context=context, outdir=out)
stack = build(app)
app.synth()
print(json.dumps(json.load(open(f"{out}/{stack.stack_name}.template.json"))))
"""


def _inputs_hash() -> str:
    digest = hashlib.sha256()
    files = [*sorted((ROOT / "stacks").glob("*.py")), ROOT / "cdk.json", ROOT / "app.py"]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def default_template() -> dict[str, Any]:
    """The default app's template (cached by the hash of its inputs)."""
    cached = CACHE / f"template-{_inputs_hash()}.json"
    if cached.exists():
        return json.loads(cached.read_text(encoding="utf-8"))
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": REGION,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", _SYNTH, str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"synthesizing the default app failed:\n{done.stderr[-3000:]}")
    template = json.loads(done.stdout.strip().splitlines()[-1])
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(template), encoding="utf-8")
    return template


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
