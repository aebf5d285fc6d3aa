"""moto's DynamoDB TransactWriteItems at the cost of the items it touches.

moto 5.2 deep-copies the whole table once per action of a transaction, to roll back: a
50-action claim on a table of 2,000 items takes about a second, so the idempotency ledger's
claims made the local run (and its chaos test) slow down as the ledger grows.
`bulkmail.local.moto_patches` swaps in the same rules with a copy of each touched item only.

The rules are moto's, line for line (tests/emulator checks both give the same answers and
leave the same table on small cases), and DynamoDB's as its API reference states them
(TransactWriteItems, CancellationReason): at most 100 actions, one per item; all or nothing;
when an action fails, TransactionCanceledException with one reason per action in request
order ("None" for the others) and, for a failed condition with
`ReturnValuesOnConditionCheckFailure=ALL_OLD`, the item as it was. Transactions run one at
a time (moto's server answers requests on threads; DynamoDB isolates transactions).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

MOTO_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items
_lock = threading.Lock()
_OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _lock:
        saved: list[tuple[Any, Any, Any, Any]] = []  # (table, hash, range, item before)
        try:
            errors = _apply(self, transact_items, saved)
        except BaseException:
            _roll_back(saved)
            raise
        if any(code is not None for code, _, _ in errors):
            _roll_back(saved)
            raise TransactionCanceledException(errors)


def _apply(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]], saved: list[Any]
) -> list[Any]:
    targets: set[tuple[str, str]] = set()
    errors: list[Any] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(item) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in _OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            table = backend.get_table(table_name)
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            target = (str(table_name), str(dict(sorted(key.items()))))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)

            hash_key, range_key = backend.get_keys_value(table, key)
            current = table.get_item(hash_key, range_key)
            saved.append((table, hash_key, range_key, copy.deepcopy(current)))
            met = condition is None or get_filter_expression(condition, names, values).expr(current)
            if not met:
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    original_item = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=original_item)
            expression = {
                "condition_expression": condition,
                "expression_attribute_names": names,
                "expression_attribute_values": values,
            }
            if op_type == "Put":
                backend.put_item(table_name, op["Item"], **expression)
            elif op_type == "Delete":
                backend.delete_item(table_name, key, **expression)
            elif op_type == "Update":
                backend.update_item(
                    table_name, key, update_expression=op["UpdateExpression"], **expression
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original_item))
        except Exception as error:  # as moto: any other failure is that action's reason
            errors.append((type(error).__name__, str(error), original_item))
    return errors


def _roll_back(saved: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_key, range_key, item in reversed(saved):
        if range_key is not None:
            if item is None:
                table.items[hash_key].pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
