"""`python -m bulkmail status`: one campaign's numbers, its emails' outcomes, and what to resend.

The status table (the stack's `StatusTableName` output) holds, per campaign, one counts item
(the CLI's `enqueued`, the sender's totals, how many emails are in each outcome now) and one
item per email (its latest outcome), keyed by `campaign_status.message_key(id)`: no address.
`--join` puts the addresses back from the user's own file by recomputing each row's id
(`bulkmail.campaign.message_id`) and its key.

`enqueue --only-failed` uses `select_failed`: a row is sent again only if its email's latest
outcome is a dead letter a retry can fix, or a transient bounce (under the next resend id,
`{id}~{n}`, since the first id is marked sent in the idempotency ledger).
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer

from bulk_sender import campaign_status as cs
from bulk_sender.names import Output, Scheduled
from bulk_sender.status_table import (
    COUNT_PREFIX,
    COUNTS_SK,
    MESSAGE_PREFIX,
    PARTITION_KEY,
    SORT_KEY,
    StatusTable,
)
from bulkmail import campaign, target
from bulkmail.errors import CliError
from bulkmail.queues import reason_name

STATUS_TABLE_OUTPUT = Output.STATUS_TABLE_NAME
BATCH_GET_KEYS = 100
EXPORT_COLUMNS = ("id", "outcome", "event", "detail", "at", "opened", "clicked")


# --- where the table is ---------------------------------------------------------------------


def table_name(
    option: str | None, stack: str | None, local: bool = False, cloudformation: Any = None
) -> str:
    """The status table: `--status-table`, else the StatusTableName output of `--local` or
    `--stack` (bulkmail.target, like every command's queues and tables)."""
    if not (option or stack or local):
        raise CliError("no status table given: use --status-table NAME, --stack NAME or --local")
    given = {STATUS_TABLE_OUTPUT: option}
    found = target.resolve(given, stack=stack, local=local, cloudformation=cloudformation)
    return found[STATUS_TABLE_OUTPUT]


def optional_table(
    option: str | None, stack: str | None, local: bool = False, cloudformation: Any = None
) -> str | None:
    """The status table if there is one (a stack deployed before it has none)."""
    if option:
        return option
    found = target.outputs(stack=stack, local=local, cloudformation=cloudformation)
    return found.get(STATUS_TABLE_OUTPUT)


def _id_key(option: str | None, stack: str | None, local: bool = False) -> bytes:
    """The ids' HMAC key as enqueue had it: --id-key, else the secret of the stack (or of the
    local run), else this machine's own key."""
    if option:
        return option.encode("utf-8")
    from bulkmail import suppress  # the stack's unsubscribe secret keys ids too

    unsubscribes = (
        suppress.from_stack(stack, local=local, required=False) if stack or local else None
    )
    return unsubscribes.keys.hash_key if unsubscribes else campaign.local_id_key()


def _send_queue(stack: str | None, local: bool) -> Any:
    """A function reading the send queue's depth, when --stack or --local names the queue."""
    if not (stack or local):
        return None
    from bulkmail import queues

    url = target.outputs(stack=stack, local=local).get(target.QUEUE_URL)
    if not url:
        return None
    sqs = queues.sqs_client()
    return lambda: queues.queue_depth(sqs, url)


def status_key(stack: str | None, local: bool = False) -> bytes:
    """The key the sender hashes ids with for tags and this table (campaign_status.py): the
    stack's (or the local run's) unsubscribe secret, else the public default."""
    from bulkmail import suppress

    unsubscribes = (
        suppress.from_stack(stack, local=local, required=False) if stack or local else None
    )
    return unsubscribes.keys.hash_key if unsubscribes else cs.DEFAULT_KEY


def keys_of(message_id: str, key: bytes) -> tuple[str, str]:
    """An email's status key, and the one it had if it was sent before keys were hashed."""
    return cs.message_key(message_id, key), cs.escaped_key(message_id)


def dynamodb_client() -> Any:
    return boto3.client("dynamodb")


# --- reading --------------------------------------------------------------------------------


def _plain(item: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """A DynamoDB item with its values unwrapped (numbers as int/float)."""
    plain: dict[str, Any] = {}
    for name, value in item.items():
        if "N" in value:
            number = float(value["N"])
            plain[name] = int(number) if number.is_integer() else number
        else:
            plain[name] = next(iter(value.values()))
    return plain


def read_counts(dynamodb: Any, table: str, name: str) -> dict[str, Any]:
    response = dynamodb.get_item(
        TableName=table,
        Key={PARTITION_KEY: {"S": name}, SORT_KEY: {"S": COUNTS_SK}},
        ConsistentRead=True,
    )
    return _plain(response.get("Item", {}))


def read_messages(dynamodb: Any, table: str, name: str) -> Iterator[dict[str, Any]]:
    """Every email item of a campaign (Query, page by page)."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :m)",
        "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
        "ExpressionAttributeValues": {":pk": {"S": name}, ":m": {"S": MESSAGE_PREFIX}},
    }
    while True:
        response = dynamodb.query(**request)
        for item in response.get("Items", []):
            plain = _plain(item)
            plain["key"] = plain[SORT_KEY][len(MESSAGE_PREFIX) :]
            yield plain
        if not response.get("LastEvaluatedKey"):
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def read_outcomes(dynamodb: Any, table: str, name: str, keys: Iterable[str]) -> dict[str, str]:
    """key -> latest outcome, for those of `keys` the table has (BatchGetItem, 100 a call)."""
    wanted = sorted(set(keys))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), BATCH_GET_KEYS):
        request = {
            table: {
                "Keys": [
                    {PARTITION_KEY: {"S": name}, SORT_KEY: {"S": MESSAGE_PREFIX + key}}
                    for key in wanted[start : start + BATCH_GET_KEYS]
                ],
                "ProjectionExpression": "#sk, outcome",
                "ExpressionAttributeNames": {"#sk": SORT_KEY},
            }
        }
        for _attempt in range(8):
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                plain = _plain(item)
                if plain.get("outcome"):
                    found[plain[SORT_KEY][len(MESSAGE_PREFIX) :]] = plain["outcome"]
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05 * 2**_attempt)
        if request:
            raise CliError("the status table kept some keys unprocessed: try again")
    return found


def record_enqueued(dynamodb: Any, table: str, name: str, count: int) -> bool:
    """Add `count` to the campaign's `enqueued` (the sender's StatusTable, one UpdateItem)."""
    return StatusTable(dynamodb, table).add_counts(name, {cs.ENQUEUED: count})


# --- the numbers ----------------------------------------------------------------------------


@dataclass
class CampaignNumbers:
    """One campaign's status, from its counts item (see the README's `status` section)."""

    campaign: str
    counts: Mapping[str, Any]
    now: float = field(default_factory=time.time)
    # The send queue's own counts (bulkmail.queues.queue_depth: visible, in_flight, delayed),
    # for every campaign on it; None when the queue is not known (only --status-table given).
    queue: Mapping[str, int] | None = None

    def _n(self, bucket: str) -> int:
        return int(self.counts.get(COUNT_PREFIX + bucket, 0))

    def _total(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    @property
    def enqueued(self) -> int:
        """Emails enqueued, each once: a row offered again (a re-run, a redrive) whose email
        was already sent is acknowledged as a duplicate, not counted a second time."""
        offered = self._total(cs.ENQUEUED) or self._total(cs.RECEIVED)
        return max(0, offered - self._total(cs.DUPLICATES))

    @property
    def on_queue(self) -> int:
        """Messages the send queue holds now: waiting, in flight or delayed (scheduled)."""
        return sum(self.queue.values()) if self.queue else 0

    @property
    def scheduled(self) -> int:
        """Rows scheduled (`enqueue --at`) and not yet on the queue, nor cancelled."""
        return max(0, self._total(Scheduled.SCHEDULED))

    @property
    def sent(self) -> int:
        return self._total(cs.SENT_TOTAL)

    @property
    def outcomes(self) -> dict[str, int]:
        return {bucket: self._n(bucket) for bucket in cs.FINAL}

    @property
    def bounced(self) -> int:
        return sum(self._n(bucket) for bucket in cs.BOUNCES)

    @property
    def in_flight(self) -> int:
        """Sent, with no delivery, bounce, complaint, reject or rendering failure yet."""
        return max(0, self.sent - sum(self.outcomes.values()))

    @property
    def awaiting_events(self) -> int:
        """Of those in flight, how many SES has said nothing about yet (not even Send)."""
        return max(0, self.in_flight - self._n(cs.SENT) - self._n(cs.DELAYED))

    @property
    def dead_by_reason(self) -> dict[str, int]:
        """Dead letters now, by reason; one name per reason (SES's entry status
        MESSAGE_REJECTED and its call error MessageRejected are one reason)."""
        prefix = f"{COUNT_PREFIX}{cs.DEAD_LETTERED}:"
        found: Counter[str] = Counter()
        for name, value in sorted(self.counts.items()):
            if name.startswith(prefix) and int(value) > 0:
                found[reason_name(name[len(prefix) :])] += int(value)
        return dict(sorted(found.items()))

    @property
    def queued(self) -> int:
        """Emails of this campaign the sender has not settled yet (sent, dead-lettered now,
        suppressed); a dead letter redriven and then sent counts once, as sent."""
        prefix = f"{COUNT_PREFIX}{cs.DEAD_LETTERED}:"
        per_email = any(name.startswith(prefix) for name in self.counts)
        dead = (
            sum(self.dead_by_reason.values()) if per_email else self._total(cs.DEAD_LETTERED_TOTAL)
        )
        done = self.sent + dead + self._total(cs.SUPPRESSED_TOTAL)
        return max(0, self.enqueued - done)

    @property
    def waiting(self) -> bool:
        """Anything still to send: this campaign's own count, or messages on the queue."""
        return bool(self.queued or self.on_queue)

    @property
    def rate(self) -> float:
        first, last = self.counts.get("first_sent_at"), self.counts.get("last_sent_at")
        if first is None or last is None or last <= first:
            return 0.0
        return self.sent / (last - first)

    @property
    def adds_up(self) -> bool:
        """sent = delivered + bounced + complained + rejected + rendering failed + in flight,
        and every email in flight has at least its Send event."""
        return self.sent == sum(self.outcomes.values()) + self.in_flight and not (
            self.awaiting_events
        )

    def lines(self) -> list[str]:
        if not self.counts:
            return [
                f"campaign {self.campaign}: nothing recorded yet (no such campaign, or not sent)"
            ]
        outcomes = self.outcomes
        dead = self.dead_by_reason
        reasons = ", ".join(f"{code} {n}" for code, n in dead.items())
        enqueued_note = "" if self._total(cs.ENQUEUED) else "  (first receives by the sender)"
        if self._total(cs.DUPLICATES):
            enqueued_note += f"  ({self._total(cs.DUPLICATES)} offered again: counted once)"
        rate = self.rate
        queued = self.queued
        left_count = max(queued, self.on_queue)
        if not self.waiting:
            left = "done" if not self.in_flight else "sending done; waiting for SES's events"
        elif rate:
            left = f"about {_duration(left_count / rate)} at {rate:.1f}/s"
        elif not queued:
            left = f"sending: {self.on_queue} message(s) on the queue"
        else:
            left = "unknown (nothing sent yet)"
        permanent = self._n(cs.BOUNCED_PERMANENT)
        transient = self._n(cs.BOUNCED_TRANSIENT)
        undetermined = self._n(cs.BOUNCED_UNDETERMINED)
        bounce_parts = f"permanent {permanent}, transient {transient}" + (
            f", undetermined {undetermined}" if undetermined else ""
        )
        awaiting = self.awaiting_events
        return [
            f"campaign {self.campaign}",
            f"scheduled          {self.scheduled:>8}  (waiting for their instant: schedule list)",
            f"enqueued           {self.enqueued:>8}{enqueued_note}",
            f"sent               {self.sent:>8}" + (f"  {rate:.1f}/s" if rate else ""),
            f"  delivered        {outcomes[cs.DELIVERED]:>8}",
            f"  bounced          {self.bounced:>8}  ({bounce_parts})",
            f"  complained       {outcomes[cs.COMPLAINED]:>8}",
            f"  rejected         {outcomes[cs.REJECTED]:>8}",
            f"  rendering failed {outcomes[cs.RENDERING_FAILED]:>8}",
            f"  in flight        {self.in_flight:>8}  (delayed {self._n(cs.DELAYED)}"
            + (f", no SES event yet {awaiting}" if awaiting else "")
            + ")",
            f"suppressed         {self._n(cs.SUPPRESSED):>8}",
            f"dead-lettered      {sum(dead.values()):>8}" + (f"  ({reasons})" if reasons else ""),
            f"duplicates         {self._total(cs.DUPLICATES):>8}  (already sent: not sent again)",
            f"still queued       {queued:>8}",
            *self._queue_line(),
            f"opened / clicked   {self._total(cs.OPENED):>8} / {self._total(cs.CLICKED)}",
            f"time left          {left:>8}",
            "sent = delivered + bounced + complained + rejected + rendering failed + in flight: "
            f"{self.sent} = {outcomes[cs.DELIVERED]} + {self.bounced} + "
            f"{outcomes[cs.COMPLAINED]} + {outcomes[cs.REJECTED]} + "
            f"{outcomes[cs.RENDERING_FAILED]} + {self.in_flight}",
        ]

    def _queue_line(self) -> list[str]:
        if self.queue is None:
            return []
        depth = self.queue
        return [
            f"on the queue       {self.on_queue:>8}  (waiting {depth.get('visible', 0)}, "
            f"in flight {depth.get('in_flight', 0)}, scheduled {depth.get('delayed', 0)}; "
            "all campaigns, read from the queue)"
        ]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


# --- export and join ------------------------------------------------------------------------


def addresses_by_key(
    path: Path, name: str, id_key: bytes, key: bytes = cs.DEFAULT_KEY
) -> dict[str, str]:
    """key -> address for every row of the user's file (its resends' keys too); `id_key`
    makes its ids as enqueue did, `key` their status keys as the sender did."""
    return {k: address for k, (_, address) in _joined(path, name, id_key, key).items()}


def ids_by_key(path: Path, name: str, id_key: bytes, key: bytes = cs.DEFAULT_KEY) -> dict[str, str]:
    """key -> id for every row of the user's file: the table holds no id, only its key."""
    return {k: message_id for k, (message_id, _) in _joined(path, name, id_key, key).items()}


def _joined(path: Path, name: str, id_key: bytes, key: bytes) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for address in _addresses(path):
        message_id = campaign.message_id(name, [address], id_key)
        for attempt in range(cs.MAX_RESENDS + 1):
            resend = cs.resend_id(message_id, attempt)
            for status_key_ in keys_of(resend, key):
                found[status_key_] = (resend, address)
    return found


def _addresses(path: Path) -> Iterator[str]:
    if not path.is_file():
        raise CliError(f"--join: {path}: no such file")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                to = doc.get("to") if isinstance(doc, dict) else None
                if isinstance(to, str):
                    yield to
        return
    for _line, header, email_column, cells in campaign.csv_rows(path):
        if len(cells) == len(header):  # a row of the wrong width was refused by enqueue
            address = cells[header.index(email_column)].strip()
            if address and address.isprintable() and _utf8(address):
                yield address


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")  # bytes that were not UTF-8 (enqueue refused their row)
    except UnicodeEncodeError:
        return False
    return True


def export(
    items: Iterable[Mapping[str, Any]],
    path: Path,
    addresses: Mapping[str, str] | None = None,
    ids: Mapping[str, str] | None = None,
) -> int:
    """One CSV row per email: id, (email), outcome, last event, detail, time, engagements."""
    columns = list(EXPORT_COLUMNS)
    if addresses is not None:
        columns.insert(1, "email")
    written = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for item in items:
            key = item["key"]
            row = {
                "id": (ids or {}).get(key) or cs.decode_key(key) or key,
                "outcome": item.get("outcome", ""),
                "event": item.get("event", ""),
                "detail": "" if item.get("detail") == "-" else item.get("detail", ""),
                "at": item.get("at", ""),
                "opened": item.get(cs.OPENED, ""),
                "clicked": item.get(cs.CLICKED, ""),
            }
            if addresses is not None:
                row["email"] = addresses.get(key, "")
            writer.writerow(row)
            written += 1
    return written


# --- resend only what failed ----------------------------------------------------------------


@dataclass
class Selection:
    bodies: list[str]
    skipped: Counter[str]


def select_failed(
    bodies: Sequence[str], outcome_of: Mapping[str, str], key: bytes = cs.DEFAULT_KEY
) -> Selection:
    """The bodies to send again, given every known key's outcome (see the module doc).

    For each row: its latest attempt is the highest resend id the table knows. A retryable
    dead letter is sent again under that same id (the ledger released it); a transient bounce
    under the next resend id; anything else, or a row the table does not know, is left alone.
    """
    selected: list[str] = []
    skipped: Counter[str] = Counter()
    for body in bodies:
        doc = json.loads(body)
        base = doc["id"]
        latest = None
        for attempt in range(cs.MAX_RESENDS, -1, -1):
            new, old = keys_of(cs.resend_id(base, attempt), key)
            outcome = outcome_of.get(new) or outcome_of.get(old)
            if outcome:
                latest = (attempt, outcome)
                break
        if latest is None:
            skipped["not recorded (still queued, or sent without events yet)"] += 1
            continue
        attempt, outcome = latest
        if not cs.is_resendable(outcome):
            skipped[outcome] += 1
            continue
        if outcome == cs.BOUNCED_TRANSIENT:
            if attempt >= cs.MAX_RESENDS:
                skipped[f"{outcome} (resent {cs.MAX_RESENDS} times already)"] += 1
                continue
            attempt += 1
        doc["id"] = cs.resend_id(base, attempt)
        selected.append(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
    return Selection(selected, skipped)


def keys_to_look_up(bodies: Sequence[str], key: bytes = cs.DEFAULT_KEY) -> list[str]:
    keys: list[str] = []
    for body in bodies:
        base = json.loads(body)["id"]
        for n in range(cs.MAX_RESENDS + 1):
            keys += keys_of(cs.resend_id(base, n), key)
    return keys


# --- the command ----------------------------------------------------------------------------


def status(
    campaign_name: Annotated[str, typer.Option("--campaign", help="The campaign's name.")],
    stack: Annotated[
        str | None,
        typer.Option("--stack", help="CloudFormation stack name: its StatusTableName output."),
    ] = None,
    local: target.LocalOption = False,
    status_table: Annotated[
        str | None,
        typer.Option("--status-table", help="The status table's name (or --stack, --local)."),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Refresh until the campaign is done (Ctrl-C stops).")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=1.0, help="Seconds between refreshes with --watch.")
    ] = 5.0,
    export_file: Annotated[
        Path | None,
        typer.Option(
            "--export", help="Write one CSV row per email: id, outcome, last event, time."
        ),
    ] = None,
    join: Annotated[
        Path | None,
        typer.Option(
            "--join",
            help="With --export: the campaign's own file (CSV with an address column, as "
            "enqueue reads it, or JSONL `to`); "
            "puts each email's address back by recomputing its id (same --id-key, or the "
            "stack's secret with --stack or --local).",
        ),
    ] = None,
    id_key: Annotated[
        str | None,
        typer.Option(envvar="BULKMAIL_ID_KEY", help="The ids' HMAC key, as given to enqueue."),
    ] = None,
) -> None:
    """One campaign: enqueued, sent, delivered, bounced, complained, suppressed, dead-lettered
    by reason, still queued, rate and time left.

    Reads the campaign status table (the stack's StatusTableName output), which the sender and
    the events function keep; it holds no address.

    Example:

        python -m bulkmail status --stack BulkEmailSender --campaign spring --export spring.csv \\
            --join people.csv
    """
    campaign.check_campaign_name(campaign_name)
    if join and not export_file:
        raise CliError("--join needs --export FILE")
    table = table_name(status_table, stack, local)
    dynamodb = dynamodb_client()
    queue = _send_queue(stack, local)
    while True:
        numbers = CampaignNumbers(
            campaign_name,
            read_counts(dynamodb, table, campaign_name),
            queue=queue() if queue else None,
        )
        if watch:
            typer.echo("\x1b[2J\x1b[H", nl=False)
        for line in numbers.lines():
            typer.echo(line)
        done = numbers.counts and not numbers.waiting and not numbers.in_flight
        if not numbers.counts and not watch:
            raise typer.Exit(1)  # no such campaign (or nothing recorded yet): said above
        if not watch or done:
            break
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            break
    if export_file:
        addresses = ids = None
        if join:
            keys = (join, campaign_name, _id_key(id_key, stack, local), status_key(stack, local))
            addresses, ids = addresses_by_key(*keys), ids_by_key(*keys)
        written = export(read_messages(dynamodb, table, campaign_name), export_file, addresses, ids)
        typer.echo(f"exported {written} email(s) to {export_file}")
