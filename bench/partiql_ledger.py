"""The other route for a call's claims, measured against the ledger's TransactWriteItems.

PartiQL `BatchExecuteStatement` takes 25 statements a request, each succeeding or failing
alone (DynamoDB API reference: BatchExecuteStatement, BatchStatementError). INSERT fails with
`DuplicateItem` on any existing key, so an id seen before needs a second round: an UPDATE
whose WHERE holds the claim condition (the item's `expires_at` is past), answering
`ConditionalCheckFailed` with the old item (`ReturnValuesOnConditionCheckFailure=ALL_OLD`).
Completions and releases are the ledger's own. Used by `handler_bench` as a what-if only: the
core keeps TransactWriteItems (BENCHMARKS.md says why).
"""

from __future__ import annotations

from typing import Any

from bulk_sender.ledger import COMPLETED, IN_PROGRESS, Claim, DynamoLedger

MAX_STATEMENTS = 25


class PartiqlLedger(DynamoLedger):
    def _claim_chunk(self, ids: list[str], hold: int, owner: str) -> dict[str, Claim]:
        now = int(self._clock())
        until = {"N": str(now + hold)}
        table = self._table.replace('"', '""')
        insert = (
            f"INSERT INTO \"{table}\" VALUE {{'id': ?, 'status': ?, 'owner': ?, 'expires_at': ?}}"
        )
        update = (
            f'UPDATE "{table}" SET "status" = ? SET "owner" = ? SET expires_at = ?'
            " WHERE id = ? AND expires_at < ?"
        )
        claims: dict[str, Claim] = {}
        seen = []
        for message_id, error in self._execute(
            ids,
            lambda i: {
                "Statement": insert,
                "Parameters": [{"S": i}, {"S": IN_PROGRESS}, {"S": owner}, until],
            },
        ):
            if error is None:
                claims[message_id] = Claim.CLAIMED
            elif error.get("Code") == "DuplicateItem":
                seen.append(message_id)
            else:
                claims[message_id] = Claim.IN_FLIGHT
        stamp = {"N": str(now)}
        for message_id, error in self._execute(
            seen,
            lambda i: {
                "Statement": update,
                "Parameters": [{"S": IN_PROGRESS}, {"S": owner}, until, {"S": i}, stamp],
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        ):
            status = ((error or {}).get("Item") or {}).get("status", {}).get("S")
            if error is None:
                claims[message_id] = Claim.CLAIMED
            else:
                claims[message_id] = Claim.COMPLETED if status == COMPLETED else Claim.IN_FLIGHT
        with self._lock:
            self._held.update({i: owner for i, c in claims.items() if c is Claim.CLAIMED})
        return claims

    def _execute(self, ids: list[str], statement: Any) -> list[tuple[str, Any]]:
        answers = []
        for start in range(0, len(ids), MAX_STATEMENTS):
            chunk = ids[start : start + MAX_STATEMENTS]
            response = self._db.batch_execute_statement(Statements=[statement(i) for i in chunk])
            for message_id, result in zip(chunk, response["Responses"], strict=True):
                answers.append((message_id, result.get("Error")))
        return answers
