"""Small readers of CloudFormation JSON for the infrastructure tests."""

from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def text(value: Any) -> str:
    """A value as text, intrinsics shown as ``${Ref}`` / ``${Id.Attr}`` placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict) and "Ref" in value:
        return f"${{{value['Ref']}}}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(text(part) for part in parts)
    raise ValueError(f"cannot read {value!r} as text")


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def arn_of(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def statements(policy_resource: dict[str, Any]) -> list[dict[str, Any]]:
    return policy_resource["Properties"]["PolicyDocument"]["Statement"]


def by_sid(policy_resource: dict[str, Any], sid: str) -> dict[str, Any]:
    found = [s for s in statements(policy_resource) if s.get("Sid") == sid]
    assert len(found) == 1, f"no single statement {sid!r}"
    return found[0]


def granting(policy_resource: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in statements(policy_resource) if action in as_list(s["Action"])]
