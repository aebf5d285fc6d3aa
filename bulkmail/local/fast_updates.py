"""moto's DynamoDB UpdateItem at the cost of the item, for the sender's plain expressions.

moto 5.2 parses an UpdateExpression twice per call, deep-copies its syntax tree and walks it
with six validators: about 10 ms of CPU per UpdateItem, whatever the expression. The status
table takes one UpdateItem per email outcome, so the local run's events function could not
keep up with the sender. `install()` answers the plain expressions the sender writes
(`SET #a = :v, #b = if_not_exists(#b, :w) ADD #c :n`: top-level attributes named by
placeholders, number ADDs) directly, and leaves anything else to moto, as do calls with the
legacy AttributeUpdates or Expected parameters. The condition is moto's own
(`create_condition_expression_parser`), and so is everything the response layer checks
(unused names and values, ReturnValues). tests/emulator/test_fast_updates.py runs the same
calls against both and compares the answers and the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from moto.dynamodb.comparisons import create_condition_expression_parser
from moto.dynamodb.exceptions import ConditionalCheckFailed, ItemSizeToUpdateTooLarge
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item

MOTO_UPDATE_ITEM = DynamoDBBackend.update_item
MAX_ITEM_BYTES = 400 * 1024

_NAME = r"#\w+"
_VALUE = r":\w+"
_SET_ACTION = re.compile(
    rf"\s*(?P<target>{_NAME})\s*=\s*(?:(?P<value>{_VALUE})"
    rf"|if_not_exists\(\s*(?P<probe>{_NAME})\s*,\s*(?P<default>{_VALUE})\s*\))\s*"
)
_ADD_ACTION = re.compile(rf"\s*(?P<target>{_NAME})\s+(?P<value>{_VALUE})\s*")
_CLAUSES = re.compile(r"^\s*SET\s+(?P<set>.+?)(?:\s+ADD\s+(?P<add>.+?))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class _Plan:
    sets: tuple[tuple[str, str, str | None], ...]  # (target, value, probe or None)
    adds: tuple[tuple[str, str], ...]  # (target, value)


def install() -> None:
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoDBBackend.update_item = MOTO_UPDATE_ITEM  # type: ignore[method-assign]


@lru_cache(maxsize=256)
def _plan(expression: str) -> _Plan | None:
    """The expression's actions, if it is a plain one (else None: moto answers)."""
    clauses = _CLAUSES.match(expression)
    if clauses is None:
        return None
    sets = _actions(_SET_ACTION, clauses["set"])
    adds = _actions(_ADD_ACTION, clauses["add"]) if clauses["add"] else []
    if sets is None or adds is None:
        return None
    plan = _Plan(
        sets=tuple((m["target"], m["value"] or m["default"], m["probe"]) for m in sets),
        adds=tuple((m["target"], m["value"]) for m in adds),
    )
    targets = [target for target, *_ in plan.sets] + [target for target, _ in plan.adds]
    if len(set(targets)) != len(targets):
        return None  # moto's error for overlapping paths
    return plan


def _actions(pattern: re.Pattern[str], clause: str) -> list[re.Match[str]] | None:
    """Each comma-separated action, if every one matches (commas inside if_not_exists kept)."""
    found: list[re.Match[str]] = []
    position = 0
    while True:
        match = pattern.match(clause, position)
        if match is None:
            return None
        found.append(match)
        position = match.end()
        if position == len(clause):
            return found
        if clause[position] != ",":
            return None
        position += 1


def update_item(
    self: DynamoDBBackend,
    table_name: str,
    key: dict[str, dict[str, Any]],
    update_expression: str,
    expression_attribute_names: dict[str, Any],
    expression_attribute_values: dict[str, Any],
    attribute_updates: dict[str, Any] | None = None,
    expected: dict[str, Any] | None = None,
    condition_expression: str | None = None,
    return_values_on_condition_check_failure: str | None = None,
) -> Item:
    names = expression_attribute_names or {}
    values = expression_attribute_values or {}
    plan = (
        _plan(update_expression)
        if update_expression and not (attribute_updates or expected)
        else None
    )
    table = self.get_table(table_name)
    if plan is None or not _resolvable(plan, names, values, table):
        return MOTO_UPDATE_ITEM(
            self, table_name, key, update_expression, expression_attribute_names,
            expression_attribute_values, attribute_updates, expected, condition_expression,
            return_values_on_condition_check_failure,
        )  # fmt: skip
    hash_value, range_value = self.get_keys_value(table, key)
    item = table.get_item(hash_value, range_value)
    condition = create_condition_expression_parser(condition_expression, names, values).parse()
    if not condition.expr(item):
        if return_values_on_condition_check_failure == "ALL_OLD" and item is not None:
            raise ConditionalCheckFailed(item=item.to_json()["Attributes"])
        raise ConditionalCheckFailed
    updated: dict[str, DynamoType] = {}
    for target, value, probe in plan.sets:
        current = item.attrs.get(names[probe]) if probe and item is not None else None
        updated[names[target]] = current if current is not None else DynamoType(values[value])
    for target, value in plan.adds:
        current = item.attrs.get(names[target]) if item is not None else None
        if current is not None and not current.is_number():
            return MOTO_UPDATE_ITEM(
                self, table_name, key, update_expression, expression_attribute_names,
                expression_attribute_values, attribute_updates, expected, condition_expression,
                return_values_on_condition_check_failure,
            )  # fmt: skip
        addend = DynamoType(values[value])
        updated[names[target]] = addend if current is None else current + addend
    if item is None:  # UpdateItem creates the item, as moto does
        data = {table.hash_key_attr: {hash_value.type: hash_value.value}}
        if range_value:
            data[table.range_key_attr] = {range_value.type: range_value.value}  # type: ignore[index]
        table.put_item(data)
        item = table.get_item(hash_value, range_value)
        assert item is not None  # just put under this very key
    before = dict(item.attrs) if table.stream_shard is not None else None
    item.attrs.update(updated)
    if item.size() > MAX_ITEM_BYTES:
        raise ItemSizeToUpdateTooLarge()
    if before is not None:
        table.stream_shard.add(Item(hash_value, range_value, before), item)  # type: ignore[union-attr]
    return item


def _resolvable(plan: _Plan, names: dict[str, Any], values: dict[str, Any], table: Any) -> bool:
    """Every placeholder given, no key attribute touched, ADDs of numbers: else moto answers
    (with its error)."""
    placeholders = [t for t, _v, _p in plan.sets] + [p for _t, _v, p in plan.sets if p]
    placeholders += [t for t, _v in plan.adds]
    if any(name not in names for name in placeholders):
        return False
    wanted = [v for _t, v, _p in plan.sets] + [v for _t, v in plan.adds]
    if any(not isinstance(values.get(value), dict) or len(values[value]) != 1 for value in wanted):
        return False
    keys = set(table.attribute_keys)
    targets = [t for t, _v, _p in plan.sets] + [t for t, _v in plan.adds]
    if any(names[target] in keys for target in targets):
        return False
    if any("N" not in values[value] for _t, value in plan.adds):
        return False
    return not any(_empty(values[value]) for value in wanted)


def _empty(value: dict[str, Any]) -> bool:
    """An empty set (moto's validation error)."""
    ((kind, inner),) = value.items()
    return kind in ("SS", "NS", "BS") and not inner
