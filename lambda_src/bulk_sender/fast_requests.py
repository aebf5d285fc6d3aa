"""Less per-request work in botocore for the requests the sender makes by the thousand.

Two things botocore redoes for every request although, for this sender's requests, the
answer never changes or is already known (bench/ measured both: issue 23):

- Endpoint rules: for every request botocore evaluates the service's endpoint rule set, and
  for DynamoDB first walks every item of the request (JMESPath over `TransactItems`,
  `RequestItems`) to collect table names for account-based routing. The endpoint of one
  client depends only on the operation and the tables (or, for SES, the multi-region
  endpoint id) named: it is resolved once per such key and kept.
- Serialization: botocore's JSON serializers walk the operation's input shape member by
  member. For operations whose input holds only strings, numbers, booleans, lists and maps
  (no blob, no timestamp, no renamed member, nothing bound to the URI or a header), that walk
  returns the parameters unchanged, so the body is `json.dumps(parameters)` itself; only
  what surrounds the body (method, path, headers) comes from botocore, once per operation.
  tests/unit/test_fast_requests.py proves the requests byte-identical to botocore's.

Parameter validation stays off on these clients (the core builds every request from
validated fields). Anything else (another operation, a SendBulkEmail with attachments,
whose content is a blob) goes through botocore unchanged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

# Operations whose input shapes hold no blob, timestamp, renamed or URI/header-bound member.
PLAIN_JSON_OPERATIONS = {
    "DynamoDB": frozenset(
        {"TransactWriteItems", "BatchWriteItem", "BatchGetItem", "UpdateItem", "PutItem"}
    ),
    "SESv2": frozenset({"SendBulkEmail"}),
}


def _dynamodb_tables(params: Mapping[str, Any]) -> tuple[str, ...]:
    """The tables a DynamoDB request names (what its endpoint parameters are made of)."""
    if "TableName" in params:
        return (params["TableName"],)
    if "RequestItems" in params:
        return tuple(sorted(params["RequestItems"]))
    tables = set()
    for item in params.get("TransactItems", ()):
        for action in item.values():
            tables.add(action.get("TableName"))
    return tuple(sorted(tables, key=str))


def _ses_key(params: Mapping[str, Any]) -> tuple[str, ...]:
    return (str(params.get("EndpointId") or ""),)


_ENDPOINT_KEYS: dict[str, Callable[[Mapping[str, Any]], tuple[str, ...]]] = {
    "DynamoDB": _dynamodb_tables,
    "SESv2": _ses_key,
}


def _has_blob(operation: str, params: Mapping[str, Any]) -> bool:
    if operation != "SendBulkEmail":
        return False
    template = (params.get("DefaultContent") or {}).get("Template") or {}
    return bool(template.get("Attachments"))


class _PlainJsonSerializer:
    """botocore's serializer, except for PLAIN_JSON_OPERATIONS (see the module doc)."""

    def __init__(self, inner: Any, operations: frozenset[str]) -> None:
        self._inner = inner
        self._operations = operations
        self._skeletons: dict[str, dict[str, Any]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def serialize_to_request(self, parameters: Any, operation_model: Any) -> dict[str, Any]:
        name = operation_model.name
        if name not in self._operations or _has_blob(name, parameters):
            return self._inner.serialize_to_request(parameters, operation_model)
        skeleton = self._skeletons.get(name)
        if skeleton is None:
            # What surrounds the body: it does not depend on these operations' parameters.
            skeleton = self._inner.serialize_to_request({}, operation_model)
            self._skeletons[name] = skeleton
        request = dict(skeleton)
        request["headers"] = dict(skeleton["headers"])
        request["body"] = json.dumps(parameters).encode("utf-8")
        return request


def speed_up(client: Any) -> Any:
    """The client with its endpoints resolved once per key and, for the plain operations,
    its bodies serialized directly (see the module doc). Returns the same client."""
    service = client.meta.service_model.service_id
    operations = PLAIN_JSON_OPERATIONS.get(service)
    if operations and not isinstance(client._serializer, _PlainJsonSerializer):
        client._serializer = _PlainJsonSerializer(client._serializer, operations)
    key_of = _ENDPOINT_KEYS.get(service)
    resolver = getattr(client, "_ruleset_resolver", None)
    if key_of is not None and resolver is not None and not hasattr(resolver, "_cached_by"):
        resolver._cached_by = key_of
        original = resolver.construct_endpoint
        cache: dict[tuple[str, ...], Any] = {}
        lock = threading.Lock()

        def construct_endpoint(operation_model: Any, call_args: Any, request_context: Any) -> Any:
            key = (operation_model.name, *key_of(call_args or {}))
            found = cache.get(key)
            if found is None:
                found = original(operation_model, call_args, request_context)
                with lock:
                    cache[key] = found
            return found

        resolver.construct_endpoint = construct_endpoint
    return client
