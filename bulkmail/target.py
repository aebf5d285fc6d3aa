"""Where a command's queues, tables and settings are: explicit options, `--stack`, or `--local`.

Every command that talks to the sender's resources resolves them here, by the stack's output
names (DESIGN.md section 9: `QueueUrl`, `DlqUrl`, `ConfigurationSetName`, `AlarmsTopicArn`, ...):

- an explicit option (`--queue-url URL`) wins;
- `--local`: the emulator `python -m bulkmail local` runs. That command writes a small state
  file (`local_state_path()`: its endpoint, region and the outputs it emulates) and removes it
  when it stops; `use_local()` reads it, checks the emulator answers, and points every boto3
  client this process makes at it (AWS_ENDPOINT_URL, dummy credentials, its region);
- `--stack NAME`: the CloudFormation stack's outputs.

    from bulkmail import target

    @app.command()
    def mine(stack: target.StackOption = None, local: target.LocalOption = False) -> None:
        found = target.resolve({Output.QUEUE_URL: None}, stack=stack, local=local)
        extra = target.outputs(stack=stack, local=local).get(Output.ALARMS_TOPIC_ARN)
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import boto3
import typer
from botocore.exceptions import ClientError

from bulk_sender.names import Output
from bulkmail.errors import CliError

# Stack outputs (DESIGN.md section 9) the CLI reads.
QUEUE_URL, DLQ_URL = Output.QUEUE_URL, Output.DLQ_URL
QUEUE_ARN, DLQ_ARN = Output.QUEUE_ARN, Output.DLQ_ARN
CONFIGURATION_SET = Output.CONFIGURATION_SET_NAME
ALARMS_TOPIC = Output.ALARMS_TOPIC_ARN
# The idempotency table; a stack deployed before this output is searched by the table's
# construct id in stacks/bulk_email_stack.py.
LEDGER_TABLE = Output.IDEMPOTENCY_TABLE_NAME
LEDGER_LOGICAL_PREFIX = "Idempotency"
ENDPOINT_URL = "AWS_ENDPOINT_URL"
STATE_ENV = "BULKMAIL_LOCAL_STATE"  # overrides where the local state file is

# The options each command declares for these (one definition, one help text).
StackOption = Annotated[
    str | None,
    typer.Option("--stack", help="CloudFormation stack name: its outputs give the queue URLs."),
]
LocalOption = Annotated[
    bool,
    typer.Option(
        "--local",
        help="Use the emulator that `python -m bulkmail local` runs (no AWS account needed).",
    ),
]
_OPTION_NAMES = {QUEUE_URL: "--queue-url", DLQ_URL: "--dlq-url"}


def local_state_path() -> Path:
    """The state file `python -m bulkmail local` writes (one per user; BULKMAIL_LOCAL_STATE)."""
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"bulkmail-local-{user}.json"


def write_local_state(endpoint_url: str, region: str, outputs: Mapping[str, str]) -> Path:
    """Written by `python -m bulkmail local` once its emulator is provisioned."""
    path = local_state_path()
    state = {"endpoint_url": endpoint_url, "region": region, "pid": os.getpid()}
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({**state, "outputs": dict(outputs)}), encoding="utf-8")
    temporary.replace(path)  # whole or absent: a reader never sees half a file
    return path


def remove_local_state(path: Path) -> None:
    """Removed when `local` stops, unless another `local` has written its own since."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def use_local() -> dict[str, str]:
    """The running local emulator's outputs; every boto3 client made after this reaches it."""
    path = local_state_path()
    hint = f"start one with `python -m bulkmail local` (looked for {path})"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        endpoint, region = state["endpoint_url"], state["region"]
        outputs = {str(k): str(v) for k, v in state["outputs"].items()}
    except FileNotFoundError:
        raise CliError(f"--local: no local emulator is running: {hint}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise CliError(f"--local: the state file is unreadable: {hint}") from None
    if not _answers(endpoint):
        raise CliError(f"--local: the emulator at {endpoint} does not answer: {hint}")
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
        del os.environ[name]  # a service-specific endpoint would win over the emulator
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            ENDPOINT_URL: endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }
    )
    return outputs


LIVENESS_PATH = "/moto-api/config"  # a few hundred bytes, whatever the emulator holds
LIVENESS_TIMEOUT_SECONDS = 3.0


def _answers(endpoint: str) -> bool:
    """The emulator answers a cheap request (never its state dump, which grows with every
    message: 130 MB after 11,000 sends)."""
    try:
        urllib.request.urlopen(endpoint + LIVENESS_PATH, timeout=LIVENESS_TIMEOUT_SECONDS).close()
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return True


def running_session() -> dict[str, Any] | None:
    """The state of a `local` that is running (its state file, its emulator answering)."""
    try:
        state = json.loads(local_state_path().read_text(encoding="utf-8"))
        endpoint = str(state["endpoint_url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if _answers(endpoint) else None


def stack_outputs(stack: str, cloudformation: Any = None) -> dict[str, str]:
    """A CloudFormation stack's outputs, by key."""
    cloudformation = cloudformation or boto3.client("cloudformation")
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError":
            raise CliError(
                f"--stack: no stack named {stack!r} in this account and region"
            ) from None
        raise
    found = stacks[0].get("Outputs", []) if stacks else []
    return {output["OutputKey"]: output["OutputValue"] for output in found}


def outputs(*, stack: str | None, local: bool, cloudformation: Any = None) -> dict[str, str]:
    """Every output of `--local` or `--stack` ({} with neither): for the optional ones."""
    if stack and local:
        raise CliError("give --stack or --local, not both")
    if local:
        return use_local()
    return stack_outputs(stack, cloudformation) if stack else {}


def resolve(
    given: Mapping[str, str | None],
    *,
    stack: str | None = None,
    local: bool = False,
    cloudformation: Any = None,
) -> dict[str, str]:
    """The named outputs, each from its option, else `--local`, else `--stack`; all required.

    `given` maps an output key (QueueUrl, DlqUrl, ConfigurationSetName, ...) to its option's
    value (None if not given). Queue URLs are checked to look like SQS queue URLs.
    """
    if stack and local:
        raise CliError("give --stack or --local, not both")
    missing = [key for key, value in given.items() if not value]
    found = outputs(stack=stack, local=local, cloudformation=cloudformation) if missing else {}
    if local and not missing:
        use_local()  # explicit URLs, but the clients still go to the emulator
    resolved: dict[str, str] = {}
    for key, value in given.items():
        option = _OPTION_NAMES.get(key)
        if not value and not (stack or local):
            ways = f"{option} URL, --stack NAME or --local" if option else "--stack or --local"
            raise CliError(f"no {key} given: use {ways}")
        value = value or found.get(key)
        if not value:
            where = "the local emulator" if local else f"stack {stack!r}"
            raise CliError(f"{'--local' if local else '--stack'}: {where} has no output {key}")
        resolved[key] = check_queue_url(value, option) if option else value
    return resolved


def ledger_table(*, stack: str | None, local: bool, cloudformation: Any = None) -> str | None:
    """The idempotency table's name, if it can be found: the IdempotencyTableName output of
    `--local` or `--stack`, else (a stack deployed before that output) the stack's resource."""
    if not (stack or local):
        return None
    cloudformation = cloudformation or (boto3.client("cloudformation") if stack else None)
    found = outputs(stack=stack, local=local, cloudformation=cloudformation).get(LEDGER_TABLE)
    if found or local:
        return found
    try:
        pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
        for page in pages:
            for resource in page["StackResourceSummaries"]:
                if resource["ResourceType"] == "AWS::DynamoDB::Table" and resource[
                    "LogicalResourceId"
                ].startswith(LEDGER_LOGICAL_PREFIX):
                    return resource.get("PhysicalResourceId")
    except ClientError:
        return None  # not allowed to look: the re-run report is left out, nothing else
    return None


def check_queue_url(url: str, option: str | None = "--queue-url") -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path.count("/") < 2:
        raise CliError(f"{option}: not an SQS queue URL (https://sqs.REGION.amazonaws.com/ID/NAME)")
    return url
