"""`python -m bulkmail suppress add|remove|check|list`: the suppression list, from the CLI.

The list lives in the stack's suppression table (output SuppressionTableName), keyed by the
keyed hash of each lower-cased address (bulk_sender.recipient_hash, the deployed secret of
output UnsubscribeSecretArn) and a list name (`all` covers every list). No address is ever
stored: `add`, `remove` and `check` hash the addresses they are given, and `list` can show
only hashes, lists, times and sources.

`enqueue --stack` uses the same pieces (`Unsubscribes.skip_suppressed`) to leave out the
rows whose recipients are suppressed before anything is put on the queue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import boto3
import typer

from bulk_sender.message import Defaults, Email, InvalidMessage, canonical_address, parse_message
from bulk_sender.names import Output
from bulk_sender.recipient_hash import ALL_LISTS, Keys, check_list
from bulk_sender.settings import Settings
from bulk_sender.suppression import VERSION_ATTRIBUTE as VERSION
from bulk_sender.suppression import SuppressionTable, keys_for
from bulk_sender.unsubscribe import Unsubscribes as SenderUnsubscribes
from bulk_sender.unsubscribe import load_keys
from bulkmail import target
from bulkmail.errors import CliError

PROG = "python -m bulkmail"
SECRET_OUTPUT, TABLE_OUTPUT = Output.UNSUBSCRIBE_SECRET_ARN, Output.SUPPRESSION_TABLE_NAME
URL_OUTPUT = Output.UNSUBSCRIBE_URL
CLI_SOURCE = "cli"

app = typer.Typer(
    help=(
        "The suppression list: who must not be mailed (from one list, or `all`). Addresses "
        "are stored only as keyed hashes, so `list` shows hashes; `check` looks addresses "
        f"up.\n\nExample: {PROG} suppress add ann@example.org --stack BulkEmailSender"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@dataclass
class Unsubscribes:
    """The stack's suppression table, the keys of its secret, and its endpoint."""

    table: SuppressionTable
    keys: Keys
    url: str | None = None  # output UnsubscribeUrl: the sender adds links to it

    def enrich(self, email: Email) -> Email:
        """The email as the stack's sender will send it (its unsubscribe headers and data),
        so a row is checked against its template as the Lambda checks it."""
        if not self.url:
            return email
        settings = Settings(dlq_url="-", unsubscribe_url=self.url, unsubscribe_secret_arn="-")
        return SenderUnsubscribes(settings, keys=self.keys).enrich(email)

    def hash(self, address: str) -> str:
        """The address's hash at the current key version (what `add` writes)."""
        return self.keys.current_hash(canonical_address(address))

    def hashes(self, address: str) -> list[str]:
        """Its hashes at the current and the previous key version (what is read)."""
        return list(self.keys.hashes(canonical_address(address)).values())

    def skip_suppressed(self, bodies: Sequence[str]) -> tuple[list[str], int]:
        """The bodies none of whose recipients is suppressed on its list (one batched read
        for all of them), and how many were left out. A body that is not a message is kept:
        the Lambda refuses it with its reason."""
        wanted: list[set[tuple[str, str]]] = []
        for body in bodies:
            doc = _json_object(body)
            list_name = doc.get("list", ALL_LISTS)
            addresses = _recipients(doc)
            if not isinstance(list_name, str) or not addresses:
                wanted.append(set())
                continue
            wanted.append(
                {k for a in addresses for h in self.hashes(a) for k in keys_for(h, list_name)}
            )
        found = self.table.suppressed(set().union(*wanted)) if wanted else set()
        kept = [body for body, keys in zip(bodies, wanted, strict=True) if not keys & found]
        return kept, len(bodies) - len(kept)


def from_stack(
    stack: str | None,
    *,
    local: bool = False,
    cloudformation: Any = None,
    secrets: Any = None,
    dynamodb: Any = None,
    required: bool = True,
) -> Unsubscribes | None:
    """The suppression table and secret named by the stack's outputs. A stack deployed before
    they existed has none: an error, or None when not `required` (enqueue then checks
    nothing, and its summary has no `suppressed` count)."""
    outputs = target.outputs(stack=stack, local=local, cloudformation=cloudformation)
    missing = [key for key in (SECRET_OUTPUT, TABLE_OUTPUT) if not outputs.get(key)]
    if missing and not required:
        return None
    if missing:
        where = "--local: the local emulator" if local else f"--stack: stack {stack!r}"
        raise CliError(f"{where} has no output {missing[0]} (deploy this version first)")
    unsubscribes = explicit(outputs[TABLE_OUTPUT], outputs[SECRET_OUTPUT], secrets, dynamodb)
    unsubscribes.url = outputs.get(URL_OUTPUT)
    return unsubscribes


def explicit(
    table: str, secret_arn: str, secrets: Any = None, dynamodb: Any = None
) -> Unsubscribes:
    try:
        keys = load_keys(secrets or boto3.client("secretsmanager"), secret_arn)
    except ValueError:
        raise CliError("the unsubscribe secret is too short to be the stack's") from None
    return Unsubscribes(SuppressionTable(dynamodb or boto3.client("dynamodb"), table), keys)


def _resolve(
    stack: str | None, table: str | None, secret_arn: str | None, local: bool = False
) -> Unsubscribes:
    if table and secret_arn:
        if local:
            target.use_local()
        return explicit(table, secret_arn)
    found = from_stack(stack, local=local) if stack or local else None
    if found is None:
        raise CliError(
            "no suppression list given: use --stack NAME or --local (or --table and --secret-arn)"
        )
    return found


def current_items(items: Iterable[dict[str, str]], keys: Keys) -> list[dict[str, str]]:
    """Each suppression once: after a rotation the table holds some under two key versions
    (bulk_sender.suppression.rekey); an item is shown under its current hash, unless that
    hash has its own item."""
    found = list(items)
    current = {(i["h"], i["list"]) for i in found if int(i.get(VERSION, 1)) == keys.version}
    shown = []
    for item in found:
        version, h = int(item.get(VERSION, 1)), item["h"]
        if version < keys.version:
            for step in range(version + 1, keys.version + 1):
                h = keys.rekey(h, step)
            if (h, item["list"]) in current:
                continue
        shown.append(item)
    return shown


def _json_object(body: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _recipients(doc: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for name in ("to", "cc", "bcc"):
        value = doc.get(name, [])
        value = [value] if isinstance(value, str) else value
        if isinstance(value, list):
            found += [item for item in value if isinstance(item, str)]
    return found


def _checked(addresses: Sequence[str]) -> list[str]:
    """Each address checked with the message schema's own rules (a one-line error if not)."""
    for number, address in enumerate(addresses, start=1):
        try:
            parse_message(
                json.dumps({"to": address, "from": "cli@example.com", "template": "x"}),
                message_id="suppress",
                defaults=Defaults(),
            )
        except InvalidMessage as error:
            raise CliError(f"address {number}: {error.rule}") from None
    return list(addresses)


def _list_name(value: str) -> str:
    try:
        return check_list(value)
    except ValueError as error:
        raise CliError(f"--list: {str(error).removeprefix('list ')}") from None


Addresses = Annotated[list[str], typer.Argument(metavar="ADDRESS...", help="Email addresses.")]
ListOption = Annotated[
    str,
    typer.Option("--list", help="The list (a message's `list` field); `all` covers every list."),
]
StackOption = Annotated[
    str | None,
    typer.Option("--stack", help="CloudFormation stack name: its outputs give table and secret."),
]
TableOption = Annotated[
    str | None, typer.Option("--table", help="The suppression table's name (with --secret-arn).")
]
SecretOption = Annotated[
    str | None, typer.Option("--secret-arn", help="The unsubscribe secret's ARN (with --table).")
]


@app.command("add")
def add(
    addresses: Addresses,
    list_name: ListOption = ALL_LISTS,
    stack: StackOption = None,
    table: TableOption = None,
    secret_arn: SecretOption = None,
    local: target.LocalOption = False,
) -> None:
    """Suppress addresses on a list (default `all`): no campaign mails them there again.

    Example:

        python -m bulkmail suppress add ann@example.org --list news --stack BulkEmailSender
    """
    addresses, name = _checked(addresses), _list_name(list_name)
    unsubscribes = _resolve(stack, table, secret_arn, local)
    version = unsubscribes.keys.version
    new = sum(
        unsubscribes.table.add(unsubscribes.hash(a), name, source=CLI_SOURCE, version=version)
        for a in addresses
    )
    typer.echo(f"suppressed {new} on list {name} ({len(addresses) - new} already were)")


@app.command("remove")
def remove(
    addresses: Addresses,
    list_name: ListOption = ALL_LISTS,
    stack: StackOption = None,
    table: TableOption = None,
    secret_arn: SecretOption = None,
    local: target.LocalOption = False,
) -> None:
    """Lift the suppression of addresses on a list (only that list's entry).

    Example:

        python -m bulkmail suppress remove ann@example.org --list news --stack BulkEmailSender
    """
    addresses, name = _checked(addresses), _list_name(list_name)
    unsubscribes = _resolve(stack, table, secret_arn, local)
    lifted = sum(
        any([unsubscribes.table.remove(h, name) for h in unsubscribes.hashes(a)]) for a in addresses
    )
    typer.echo(f"lifted {lifted} on list {name} ({len(addresses) - lifted} were not suppressed)")


@app.command("check")
def check(
    addresses: Addresses,
    list_name: ListOption = ALL_LISTS,
    stack: StackOption = None,
    table: TableOption = None,
    secret_arn: SecretOption = None,
    local: target.LocalOption = False,
) -> None:
    """Say, for each address, whether a campaign on that list would skip it (one read).

    Exit code 0 when none is suppressed, 1 when some is.

    Example:

        python -m bulkmail suppress check ann@example.org --list news --stack BulkEmailSender
    """
    addresses, name = _checked(addresses), _list_name(list_name)
    unsubscribes = _resolve(stack, table, secret_arn, local)
    hashes = [unsubscribes.hashes(address) for address in addresses]
    found = unsubscribes.table.suppressed(
        {k for hs in hashes for h in hs for k in keys_for(h, name)}
    )
    suppressed = 0
    for address, hs in zip(addresses, hashes, strict=True):
        lists = sorted({list_ for hash_, list_ in found if hash_ in hs})
        suppressed += bool(lists)
        state = f"suppressed (list {', '.join(lists)})" if lists else "not suppressed"
        typer.echo(f"{address}: {state}")
    if suppressed:
        raise typer.Exit(1)


@app.command("list")
def list_(
    list_name: Annotated[
        str | None, typer.Option("--list", help="Only this list's entries (default: all).")
    ] = None,
    stack: StackOption = None,
    table: TableOption = None,
    secret_arn: SecretOption = None,
    local: target.LocalOption = False,
) -> None:
    """Show the suppression list: keyed hashes, lists, when, how. No address is stored, so
    none can be shown: use `check ADDRESS` to look one up.

    Example:

        python -m bulkmail suppress list --stack BulkEmailSender
    """
    name = _list_name(list_name) if list_name is not None else None
    unsubscribes = _resolve(stack, table, secret_arn, local)
    count = 0
    for item in current_items(unsubscribes.table.items(), unsubscribes.keys):
        if name is not None and item.get("list") != name:
            continue
        count += 1
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(item.get("at", 0))))
        typer.echo(f"{item.get('h')}  {item.get('list')}  {at}  {item.get('source', '')}")
    typer.echo(f"{count} suppression(s); hashes only: the table holds no address")
