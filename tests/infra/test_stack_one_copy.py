"""A function of the asset and a queue with its DLQ are each built in one place.

A copy of either drifts: a function without its own log group or Powertools settings, a
queue without encryption or TLS. Every other module asks stacks/function_identity.py's
`AssetFunction` and stacks/queues.py's `queue_with_dlq`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STACKS = Path(__file__).resolve().parents[2] / "stacks"
# Where each is built, and the one module left as it was while issue 21 changes it.
BUILT_IN = {"Function": "function_identity.py", "Queue": "queues.py"}


def _calls(path: Path, module: str, name: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == name
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == module
    ]


@pytest.mark.parametrize(("module", "name"), [("lambda_", "Function"), ("sqs", "Queue")])
def test_only_one_module_builds_it(module, name):
    # Given the stack's modules
    others = [path for path in sorted(STACKS.glob("*.py")) if path.name != BUILT_IN[name]]
    # When their calls of the CDK class are listed
    found = {path.name: _calls(path, module, name) for path in others}
    # Then only the one module builds it; the others call it
    assert {path: lines for path, lines in found.items() if lines} == {}
    assert _calls(STACKS / BUILT_IN[name], module, name)
