"""Part 1's baselines, against the same fake SES and the same event as the handler.

- `send_email_loop`: one SES v2 SendEmail (stored template) per message, in sequence: what
  most public samples do in their Lambda. Run on a sample (200 messages) and scaled.
- `bulk_chunks_in_sequence`: SendBulkEmail in chunks of 50 per (from, template), one call
  after the other: batching without concurrency.

Both are bare loops (no validation, no Powertools, no DLQ): the cheapest form of each
approach, so the comparison flatters the baselines, not the handler.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import boto3

from bench.fake_aws import FakeService, on_default_session, ses_answers

CONFIGURATION_SET = "bulk-email"
DEFAULT_TAGS = {"app": "bulk-email"}


def _pairs(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in mapping.items()]


def _destination(doc: dict[str, Any]) -> dict[str, list[str]]:
    to = doc["to"]
    return {"ToAddresses": [to] if isinstance(to, str) else list(to)}


def send_email_loop(records: Sequence[dict[str, Any]], ses: Any) -> int:
    """One SendEmail per message, in sequence. Returns the calls made."""
    for record in records:
        doc = json.loads(record["body"])
        ses.send_email(
            FromEmailAddress=doc["from"],
            Destination=_destination(doc),
            Content={
                "Template": {
                    "TemplateName": doc["template"],
                    "TemplateData": json.dumps(doc.get("data", {})),
                    "Headers": _pairs(doc.get("headers", {})),
                }
            },
            EmailTags=_pairs({**DEFAULT_TAGS, **doc.get("tags", {})}),
            ConfigurationSetName=CONFIGURATION_SET,
        )
    return len(records)


def bulk_chunks_in_sequence(records: Sequence[dict[str, Any]], ses: Any, chunk: int = 50) -> int:
    """SendBulkEmail per (from, template) in chunks of `chunk`, in sequence. Returns calls."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        doc = json.loads(record["body"])
        groups.setdefault((doc["from"], doc["template"]), []).append(doc)
    calls = 0
    for (sender, template), docs in groups.items():
        for start in range(0, len(docs), chunk):
            ses.send_bulk_email(
                FromEmailAddress=sender,
                DefaultContent={"Template": {"TemplateName": template, "TemplateData": "{}"}},
                DefaultEmailTags=_pairs(DEFAULT_TAGS),
                ConfigurationSetName=CONFIGURATION_SET,
                BulkEmailEntries=[
                    {
                        "Destination": _destination(doc),
                        "ReplacementEmailContent": {
                            "ReplacementTemplate": {
                                "ReplacementTemplateData": json.dumps(doc.get("data", {}))
                            }
                        },
                        "ReplacementTags": _pairs({**DEFAULT_TAGS, **doc.get("tags", {})}),
                        "ReplacementHeaders": _pairs(doc.get("headers", {})),
                    }
                    for doc in docs[start : start + chunk]
                ],
            )
            calls += 1
    return calls


BASELINES = {"send_email_loop": send_email_loop, "bulk_chunks_in_sequence": bulk_chunks_in_sequence}


def planned_calls(name: str, records: Sequence[dict[str, Any]], chunk: int = 50) -> int:
    """The calls a baseline makes on all of `records` (exact, where the run is sampled)."""
    if name == "send_email_loop":
        return len(records)
    sizes: dict[tuple[str, str], int] = {}
    for record in records:
        doc = json.loads(record["body"])
        key = (doc["from"], doc["template"])
        sizes[key] = sizes.get(key, 0) + 1
    return sum(-(-size // chunk) for size in sizes.values())


def run_baseline(
    name: str, records: Sequence[dict[str, Any]], *, latency: float, sample: int | None = None
) -> dict[str, Any]:
    """Run one baseline on `records[:sample]` (all by default); figures scaled to all."""
    fake = FakeService(ses_answers(), latency)
    with on_default_session({"sesv2": fake}):
        ses = boto3.client("sesv2")
    run = BASELINES[name]
    run(records[:2], ses)  # warm: botocore loads the operation's model on first use
    fake.reset()
    measured = list(records[:sample] if sample else records)
    wall, cpu = time.perf_counter(), time.process_time()
    calls = run(measured, ses)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    scale = len(records) / len(measured)
    sent = sum(send.recipients for send in fake.sends)
    return {
        "name": name,
        "messages": len(records),
        "measured_messages": len(measured),
        "scale": scale,
        "measured_calls": calls,
        "measured_sent": sent,
        "calls": planned_calls(name, records) if scale != 1 else calls,
        "wall_s": wall * scale,
        "measured_wall_s": wall,
        "cpu_us_per_message": (cpu - fake.cpu_seconds) / len(measured) * 1e6,
    }
