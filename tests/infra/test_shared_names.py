"""Each environment variable and stack output is named once, in ``bulk_sender.names``.

The stack sets what the functions read and the CLI reads what the stack outputs: a name typed
twice can drift, and a drift fails only after a deploy (an unset variable, a missing output).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulk_sender import status_events, unsubscribe_endpoint
from bulk_sender.names import Env, Output
from bulk_sender.settings import Settings as FunctionSettings
from stacks import settings_docs

REPO = Path(__file__).resolve().parents[2]
ENV_NAMES = {value for key, value in vars(Env).items() if not key.startswith("_")}
OUTPUT_NAMES = {value for key, value in vars(Output).items() if not key.startswith("_")}
# Outputs named like AWS API fields (SQS's QueueUrl and QueueArn, SES's ConfigurationSetName):
# a literal of these is the API's field, not the output.
API_FIELDS = {"QueueUrl", "QueueArn", "ConfigurationSetName"}
# Where a name is written: names.py itself, and the documentation keyed by it (docs/gen.py
# checks that its keys are exactly names.Env).
DEFINITIONS = {"lambda_src/bulk_sender/names.py", "stacks/settings_docs.py"}


def _function_environments(template: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(function, variable) of this app's functions (CDK's own helpers use no environment)."""
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        for name in variables:
            yield logical_id, name


@pytest.mark.parametrize("app", ["synth", "variant"])
def test_every_variable_a_function_receives_is_a_shared_name(app, request):
    # Given the synthesized app (defaults, and the optional settings on)
    template = request.getfixturevalue(app).template
    # When each of its functions' environment variables is listed
    received = set(_function_environments(template))
    # Then there are some, and each is a name of bulk_sender.names.Env
    assert received
    assert {(fn, name) for fn, name in received if name not in ENV_NAMES} == set()


def test_every_output_of_the_stack_is_a_shared_name_or_a_dkim_record(variant, synth):
    # Given the synthesized app's outputs
    outputs = set(synth.template["Outputs"]) | set(variant.template["Outputs"])
    # Then each is a name of bulk_sender.names.Output (or a domain's DKIM records)
    assert {name for name in outputs if name not in OUTPUT_NAMES and "Dkim" not in name} == set()


class _Recording(dict[str, str]):
    """An environment that notes each name read from it."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def test_every_variable_the_functions_read_is_a_documented_shared_name():
    # Given environments that record what the functions' settings read from them
    sender = _Recording({Env.DLQ_URL: "https://sqs.eu-west-1.amazonaws.com/1/dlq"})
    events = _Recording({Env.STATUS_TABLE: "status"})
    endpoint = _Recording({Env.UNSUBSCRIBE_SECRET_ARN: "arn", Env.SUPPRESSION_TABLE: "t"})
    # When the sender's, the events function's and the unsubscribe endpoint's settings are read
    FunctionSettings.from_env(sender)
    status_events.StatusSettings.from_env(events)
    unsubscribe_endpoint.from_env(object(), object(), endpoint)
    # Then each name read (but Lambda's own AWS_ variables) is in names.Env and documented
    read = {n for n in sender.read | events.read | endpoint.read if not n.startswith("AWS_")}
    assert Env.MAX_SEND_RATE in read
    assert Env.STATUS_TTL_SECONDS in read
    assert read - ENV_NAMES == set()
    assert read - set(settings_docs.ENVIRONMENT) == set()


def _literals(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_no_tier_spells_a_variable_or_an_output_name_itself():
    # Given the stack's, the functions' and the CLI's modules
    sources = [
        path
        for folder in ("stacks", "lambda_src", "bulkmail")
        for path in sorted((REPO / folder).rglob("*.py"))
        if str(path.relative_to(REPO)) not in DEFINITIONS
    ]
    # When their string literals are read
    spelled = [
        f"{path.relative_to(REPO)}:{line} {value}"
        for path in sources
        for line, value in _literals(path)
        if value in ENV_NAMES or (value in OUTPUT_NAMES - API_FIELDS)
    ]
    # Then none is an environment variable's or an output's name: each reads bulk_sender.names
    assert spelled == []
