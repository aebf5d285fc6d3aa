"""`python -m bulkmail`: enqueue a campaign, inspect and redrive the DLQ, run it all locally.

Exit codes: 0 done; 1 done in part (`enqueue` refused or could not enqueue some rows, the
demo's equations do not hold, a confirmation was declined); 2 a bad argument or input, or an
AWS error (`enqueue` sends nothing then). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text
from typer.core import TyperGroup

from bulk_sender.campaign_status import DEFAULT_KEY as STATUS_DEFAULT_KEY
from bulk_sender.message import Email, InvalidMessage
from bulk_sender.names import Env
from bulk_sender.settings import parse_configuration_sets
from bulk_sender.template_names import PREFIX_PATTERN
from bulk_sender.template_vars import missing_variables
from bulkmail import attach as attachments
from bulkmail import (
    campaign,
    doctor,
    identity,
    ledger_view,
    local_command,
    pinpoint,
    queues,
    quota,
    render,
    schedule,
    secret,
    send_test,
    status,
    suppress,
    target,
    templates,
)
from bulkmail import dlq as dlq_tools
from bulkmail.errors import CliError

PROG = "python -m bulkmail"


class _OneLineErrors(TyperGroup):
    """Every error as one line on stderr with an exit code; tracebacks never reach the user."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        if not standalone_mode:
            return super().main(*args, **kwargs)
        try:
            code = super().main(*args, **kwargs)
        except typer.TyperException as error:  # usage errors and bad option values
            if type(error).__name__ == "NoArgsIsHelpError":
                sys.exit(error.exit_code)  # the help was shown
            _fail(f"{error.format_message()} (see --help)", error.exit_code)
        except typer.Abort:
            _fail("aborted", 1)
        except CliError as error:
            _fail(str(error), error.exit_code)
        except ClientError as error:
            info = error.response.get("Error", {})
            _fail(f"AWS {error.operation_name}: {info.get('Code')}: {info.get('Message')}", 2)
        except (NoCredentialsError, NoRegionError) as error:
            _fail(f"AWS: {error} (set AWS_PROFILE, or AWS_REGION and credentials)", 2)
        except BotoCoreError as error:
            _fail(f"AWS: {error}", 2)
        sys.exit(code or 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # Ctrl-C where a command has no word of its own (typer
            _fail("interrupted (Ctrl-C)", 130)  # would exit 130 silently)


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)


app = typer.Typer(
    cls=_OneLineErrors,
    name="bulkmail",
    help=(
        "Serverless bulk email (SQS -> Lambda -> SES v2 SendBulkEmail): put a campaign on the "
        "queue, inspect and redrive the dead-letter queue, or run the whole system locally.\n\n"
        f"Example: {PROG} demo"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
dlq_app = typer.Typer(
    help=(
        "Inspect, redrive and purge the dead-letter queue.\n\n"
        f"Example: {PROG} dlq show --stack BulkEmailSender"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(dlq_app, name="dlq")
template_app = typer.Typer(
    help=(
        "Check a template's variables against data, or render it locally as a recipient "
        f"gets it.\n\nExample: {PROG} template check welcome data.json"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(template_app, name="template")
app.command("status")(status.status)
app.add_typer(suppress.app, name="suppress")
app.add_typer(secret.app, name="secret")
app.add_typer(schedule.app, name="schedule")
app.add_typer(pinpoint.app, name="import")

StackOption = target.StackOption
LocalOption = target.LocalOption
TemplatesDirOption = Annotated[
    Path,
    typer.Option(
        "--templates-dir",
        help="Where NAME.json templates are; a template not there is fetched from SES.",
    ),
]


def _check_prefix(value: str) -> str:
    if not PREFIX_PATTERN.fullmatch(value):
        raise typer.BadParameter("must be 0 to 63 of A-Z a-z 0-9 _ -")
    return value


TemplatePrefixOption = Annotated[
    str,
    typer.Option(
        "--template-prefix",
        envvar=Env.TEMPLATE_PREFIX,
        show_envvar=True,
        callback=_check_prefix,
        help="The stack's template_prefix: a template not in --templates-dir is fetched from "
        "SES as PREFIX+NAME, as the sender sends it.",
    ),
]
QueueUrlOption = Annotated[
    str | None, typer.Option("--queue-url", help="The send queue's URL (or --stack, --local).")
]
DlqUrlOption = Annotated[
    str | None, typer.Option("--dlq-url", help="The dead-letter queue's URL (or --stack, --local).")
]


# --- enqueue --------------------------------------------------------------------------------


@app.command()
def enqueue(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A .csv (an `email` column) or .jsonl campaign.")
    ],
    campaign_name: Annotated[
        str,
        typer.Option(
            "--campaign",
            help="Campaign name: the `campaign` tag and the id prefix. Ids are "
            "NAME:HMAC(key, address), so running the same campaign again sends each email once.",
        ),
    ],
    queue_url: QueueUrlOption = None,
    stack: StackOption = None,
    local: LocalOption = False,
    from_address: Annotated[
        str | None, typer.Option("--from", help="Sender, e.g. `News <news@example.com>`.")
    ] = None,
    template: Annotated[str | None, typer.Option(help="SES template name (or ARN).")] = None,
    content_file: Annotated[
        Path | None,
        typer.Option(help="Inline template instead: a JSON file with subject, text, html."),
    ] = None,
    id_key: Annotated[
        str | None,
        typer.Option(
            envvar="BULKMAIL_ID_KEY",
            show_envvar=True,
            help="Secret key of the ids' HMAC. With --stack, the stack's unsubscribe secret is "
            "used; without either, this machine's own random key (made on first use, kept in "
            "~/.config/bulkmail/id-key or BULKMAIL_ID_KEY_FILE): ids stay deterministic here "
            "and no one can recompute one from an address.",
        ),
    ] = None,
    unsubscribe_url: Annotated[
        str | None,
        typer.Option(
            help="Your own unsubscribe URL with {id} (the URL-encoded message id): adds "
            "List-Unsubscribe, List-Unsubscribe-Post for https (RFC 8058) and "
            "data.unsubscribe_url. Without it the stack's sender adds its own signed links."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build and check every row; send nothing.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Do not ask when the campaign is larger than the quota left."
        ),
    ] = False,
    no_validate: Annotated[
        bool,
        typer.Option(
            "--no-validate",
            help="Skip the checks (the template data check too) and send rows as they are "
            "(JSONL lines that are not JSON objects go verbatim). For demos and tests: the "
            "Lambda then dead-letters bad ones.",
        ),
    ] = False,
    templates_dir: TemplatesDirOption = templates.DEFAULT_DIR,
    allow_unchecked_template: Annotated[
        bool,
        typer.Option(
            "--allow-unchecked-template",
            help="Enqueue even when a template cannot be found or read (its rows unchecked).",
        ),
    ] = False,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            metavar="NAME=COLUMN",
            help="CSV: the template variable NAME is in the column COLUMN (repeatable), e.g. "
            "--column 'name=First Name'.",
        ),
    ] = None,
    allow_empty: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-empty",
            metavar="NAME",
            help="Accept an empty value for the template variable NAME (repeatable); by "
            "default a row whose required variable is empty is refused.",
        ),
    ] = None,
    allow_unverified_from: Annotated[
        bool,
        typer.Option(
            "--allow-unverified-from",
            help="Enqueue even when a sender (--from, a JSONL `from`) is not a verified SES "
            "identity (with --stack or --local each is looked up first: SES would reject it).",
        ),
    ] = False,
    template_prefix: TemplatePrefixOption = "",
    configuration_sets: Annotated[
        str | None,
        typer.Option(
            "--allowed-configuration-sets",
            envvar=Env.ALLOWED_CONFIGURATION_SETS,
            show_envvar=True,
            help="Comma-separated configuration sets a row may name (the stack's own and its "
            "allowed_configuration_sets): a row naming another is refused, as the sender "
            "would dead-letter it. Unset: not checked.",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=32, help="SendMessageBatch calls in flight.")
    ] = 4,
    only_failed: Annotated[
        bool,
        typer.Option(
            "--only-failed",
            help="Send again only the rows whose email was dead-lettered for a reason a retry "
            "can fix, or bounced transiently (per the status table); never a permanent bounce, "
            "a complaint or a suppression. Running it twice sends nothing twice.",
        ),
    ] = False,
    status_table: Annotated[
        str | None,
        typer.Option(
            "--status-table",
            help="The campaign status table (or --stack): enqueued is counted there.",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="Send later: ISO 8601 with an offset (2026-12-24T09:00+01:00). Checks every "
            "row now, stores the campaign in the stack's campaign bucket and creates a one-time "
            "schedule; returns at once (--stack or --local).",
        ),
    ] = None,
    at_local: Annotated[
        str | None,
        typer.Option(
            "--at-local",
            metavar="TIME",
            help="Send at this wall-clock time in each recipient's own zone (2026-12-24T09:00, "
            "no offset): one schedule per instant. A nonexistent time (DST gap) moves forward, "
            "a repeated one takes the first; an unknown zone refuses its row.",
        ),
    ] = None,
    timezone_column: Annotated[
        str,
        typer.Option(
            "--timezone-column",
            help="With --at-local: the column (data field) holding each row's IANA zone.",
        ),
    ] = "timezone",
    default_timezone: Annotated[
        str | None,
        typer.Option(
            "--default-timezone",
            metavar="ZONE",
            help="With --at-local: the zone of rows whose zone is empty (else they are refused).",
        ),
    ] = None,
    attach: Annotated[
        list[Path] | None,
        typer.Option(
            "--attach",
            metavar="FILE",
            help="Attach FILE to every email (repeatable): uploaded once to the stack's "
            "attachment bucket (--stack or --local), then referenced by each message.",
        ),
    ] = None,
) -> None:
    """Put a campaign on the queue: one SQS message per email, checked first.

    CSV: an address column (`email`, `Email Address`, `e-mail`, ... in any case; commas,
    semicolons, tabs or bars, sniffed from the header); the other columns become the
    template's `data`; --from and --template (or --content-file) apply to every row. JSONL:
    one whole message per line (the README's message format); --from / --template fill in lines that
    have none. Every row is checked with the Lambda's own validator, and its data against
    its template (from --templates-dir, else SES): a row lacking a variable the template
    requires is refused (`line N: data: lacks code required by welcome`); a template that
    cannot be found stops it all (exit 2) unless --allow-unchecked-template. Bad rows are
    listed with their line numbers and reasons and not sent; rows the sender already sent
    in this campaign are counted (it skips them). With --stack (or --local), rows whose
    recipients are on the suppression list (for the row's `list`, or `all`) are skipped and
    counted, and the ids are keyed by the stack's secret. Before sending, SES GetAccount is
    read: a campaign larger than what is left of the 24-hour
    quota is reported with the time it will take (the sender pauses and resumes by itself), and
    enqueue asks first unless --yes (--dry-run reports it too). Ctrl-C stops it with the count so
    far: the same command again sends nothing twice. Exit code 1 if any row was refused or not
    enqueued, 2 on bad arguments or input (nothing sent), 130 when interrupted.

    Example:

        python -m bulkmail enqueue campaign.csv --stack BulkEmailSender \\
            --campaign spring --template welcome \\
            --from 'News <news@example.com>' \\
            --unsubscribe-url 'https://example.com/unsubscribe?id={id}'
    """
    campaign.check_file(file)
    when = schedule.When.from_options(
        at, at_local, timezone_column, default_timezone, now=schedule.clock()
    )
    if when and not (stack or local or dry_run):
        raise CliError("--at and --at-local need the stack's campaign bucket: --stack or --local")
    # The suppression list and secret of the stack (or the local run), if it has them.
    # --dry-run too: it is the real run minus the sends (same ids, same suppressions).
    unsubscribes = (
        suppress.from_stack(stack, local=local, required=False) if stack or local else None
    )
    # Its SES client is made on first need.
    store = templates.TemplateStore(templates_dir, prefix=template_prefix)
    unchecked: dict[str, str] = {}
    options = campaign.CampaignOptions(
        campaign=campaign_name,
        from_address=from_address,
        template=template,
        content=campaign.load_content(content_file) if content_file else None,
        id_key=id_key.encode("utf-8")
        if id_key
        else (unsubscribes.keys.hash_key if unsubscribes else campaign.local_id_key()),
        unsubscribe_url=unsubscribe_url,
        validate=not no_validate,
        configuration_sets=parse_configuration_sets(configuration_sets, None),
        render_check=None
        if no_validate
        else _render_check(
            store, unchecked, unsubscribes.enrich if unsubscribes else None, allow_empty or ()
        ),
        columns=_columns(column or []),
    )
    if queue_url:
        queues.check_queue_url(queue_url)
    if not dry_run and not (queue_url or stack or local):
        raise CliError(
            "no queue given: use --queue-url URL, --stack NAME or --local (or --dry-run)"
        )
    if local and dry_run:
        target.use_local()  # templates from the local emulator's SES
    sqs, url = (None, "") if dry_run else _send_queue(queue_url, stack, local, workers)
    if template and not no_validate and not allow_unchecked_template:
        _check_template(store, template)
    try:
        rows = campaign.read_campaign(file, options)
    except KeyboardInterrupt:
        _interrupted("while reading the file: nothing enqueued")
    _refuse_unchecked(unchecked, allow_unchecked_template)
    if when:
        rows = schedule.refuse_unknown_zones(rows, when)
    _report_refused(rows)
    _data_hint(file, rows, options.columns)
    bodies = [row.body for row in rows if row.body is not None]
    if (stack or local) and bodies and not (no_validate or allow_unverified_from):
        _check_senders(bodies, from_address)
    bodies = attachments.attach_files(
        bodies, attach or [], campaign=campaign_name, stack=stack, local=local, dry_run=dry_run
    )
    refused = len(rows) - len(bodies)
    status_name = None  # where `enqueued` is counted (and --only-failed reads the outcomes)
    if only_failed:
        status_name = status.table_name(status_table, stack, local)
        key = unsubscribes.keys.hash_key if unsubscribes else STATUS_DEFAULT_KEY
        bodies = _only_failed(status_name, campaign_name, bodies, key)
    elif not dry_run:
        status_name = status.optional_table(status_table, stack, local)
    bodies, skipped = unsubscribes.skip_suppressed(bodies) if unsubscribes else (bodies, 0)
    ids = [row.id for row in rows if row.id is not None]
    ledger = target.ledger_table(stack=stack, local=local) if ids and (stack or local) else None
    offered = len(bodies)
    if ledger:
        bodies = _skip_already_sent(ledger, ids, bodies)
    already = offered - len(bodies)
    if bodies and not when:  # SES GetAccount: larger than the quota left? (asks unless --yes)
        quota.check(bodies, ask=not (yes or dry_run), echo=_warn, confirm=_confirm)
    if when:
        schedule.enqueue_later(
            bodies,
            when,
            campaign=campaign_name,
            stack=stack,
            local=local,
            dry_run=dry_run,
            rows=len(rows),
            refused=refused,
            suppressed=skipped,
            warn=_warn,
            confirm=None if (yes or dry_run) else _confirm,
        )
    elif dry_run:
        _dry_run_summary(len(rows), bodies, refused, skipped if unsubscribes else None, already)
    else:
        report = _send(sqs, url, bodies, workers, rows=len(rows), refused=refused)
        for index, code in report.failed:
            typer.echo(f"not enqueued: message {index + 1} of {len(bodies)}: {code}", err=True)
        refused += len(report.failed)
        suppressed = f", suppressed {skipped}" if unsubscribes else ""
        suppressed += f", already sent {already}" if already else ""
        typer.echo(
            f"rows {len(rows)}, enqueued {report.enqueued}, refused {refused}{suppressed} "
            f"(onto {url})"
        )
        if status_name and report.enqueued:
            dynamodb = status.dynamodb_client()
            if not status.record_enqueued(dynamodb, status_name, campaign_name, report.enqueued):
                typer.echo("warning: enqueued not counted in the status table", err=True)
    if refused:
        raise typer.Exit(1)


def _check_senders(bodies: Sequence[str], from_address: str | None) -> None:
    """Each sender is a verified SES identity of the stack's account (exit 2 if not)."""
    ses = quota.ses_client()
    identity.check(
        identity.senders(bodies, from_address), ses, region=ses.meta.region_name, warn=_warn
    )


def _warn(line: str) -> None:
    typer.echo(line, err=True)


def _confirm(question: str) -> None:
    typer.confirm(question, abort=True, err=True)


def _check_template(store: templates.TemplateStore, template: str) -> None:
    """--template exists (a file, else SES), or one line naming it and where it looked."""
    try:
        store.load(template)
    except (ClientError, BotoCoreError) as error:
        reason = error.response["Error"].get("Code") if isinstance(error, ClientError) else error
        raise CliError(
            f"template {template}: not in {store.directory}/, and SES could not be asked "
            f"({reason}); pass --allow-unchecked-template to send it unchecked"
        ) from None


def _skip_already_sent(table: str, ids: Sequence[str], bodies: list[str]) -> list[str]:
    """The bodies whose id the sender has not sent yet: a re-run enqueues (and counts) each
    email once. Said how many were left out; if the ledger cannot be read, all are kept (the
    sender skips those it sent)."""
    try:
        sent = ledger_view.sent_ids(boto3.client("dynamodb"), table, ids)
    except (ClientError, BotoCoreError) as error:
        code = error.response["Error"].get("Code") if isinstance(error, ClientError) else error
        typer.echo(
            f"warning: cannot read the idempotency table ({code}): rows already sent are "
            "enqueued again (the sender skips them)",
            err=True,
        )
        return bodies
    if not sent:
        return bodies
    kept = [body for body in bodies if campaign.body_id(body) not in sent]
    typer.echo(
        f"{len(bodies) - len(kept)} already sent in this campaign: not enqueued again "
        "(the sender would skip them)"
    )
    return kept


def _only_failed(table: str, name: str, bodies: Sequence[str], key: bytes) -> list[str]:
    """The bodies `--only-failed` sends again (bulkmail.status.select_failed), said so; `key`
    is the one the sender hashed ids with (campaign_status.message_key)."""
    dynamodb = status.dynamodb_client()
    outcomes = status.read_outcomes(dynamodb, table, name, status.keys_to_look_up(bodies, key))
    selection = status.select_failed(bodies, outcomes, key)
    left = ", ".join(f"{reason} {n}" for reason, n in sorted(selection.skipped.items()))
    typer.echo(
        f"only failed: {len(selection.bodies)} of {len(bodies)} rows sent again"
        + (f"; left alone: {left}" if left else "")
    )
    return selection.bodies


def _columns(given: Sequence[str]) -> dict[str, str]:
    """--column NAME=COLUMN, each checked: {NAME: COLUMN}."""
    found: dict[str, str] = {}
    for item in given:
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise CliError(f"--column {item!r}: give NAME=COLUMN, e.g. --column 'name=First Name'")
        found[name.strip()] = column.strip()
    return found


def _data_hint(file: Path, rows: Sequence[campaign.Row], columns: Mapping[str, str]) -> None:
    """When rows lack a variable: the columns the file has, and the closest to each missing
    one, with the --column that maps it (CSV only: a JSONL line names its own data)."""
    missing: dict[str, None] = {}
    for row in rows:
        if row.refused and (match := _LACKS.search(row.error or "")):
            missing.update(dict.fromkeys(v.strip() for v in match.group(1).split(",")))
    if not missing or file.suffix.lower() in (".jsonl", ".ndjson"):
        return
    try:
        _line, header, email_column, _cells = next(iter(campaign.csv_rows(file)))
    except (StopIteration, CliError, OSError):
        return
    found = [name for name in header if name != email_column and name not in columns.values()]
    hints = []
    for name in missing:
        close = campaign.closest_column(name, found)
        if close:
            hints.append(
                f"column `{close}` looks like `{name}`; map it with --column '{name}={close}'"
            )
    listed = ", ".join(f"`{name}`" for name in header)
    typer.echo(
        f"hint: the file's columns are {listed}" + ("; " + "; ".join(hints) if hints else ""),
        err=True,
    )


_LACKS = re.compile(r"data: lacks (.+?) required by ")


def _render_check(
    store: templates.TemplateStore,
    unchecked: dict[str, str],
    enrich: Callable[[Email], Email] | None = None,
    allow_empty: Sequence[str] = (),
) -> Callable[[Email], str | None]:
    """The row check (a template it cannot load goes to `unchecked`); with `enrich` (the
    stack's sender adds unsubscribe links and data), on the email as the sender will send it."""

    def skipped(message: str) -> None:
        unchecked.setdefault(message, message)

    check = templates.row_check(store, skipped, allow_empty)
    if enrich is None:
        return check

    def as_sent(email: Email) -> str | None:
        try:
            return check(enrich(email))
        except InvalidMessage as error:
            return str(error)

    return as_sent


def _refuse_unchecked(unchecked: dict[str, str], allowed: bool) -> None:
    """A template that cannot be checked would dead-letter every row naming it: exit 2."""
    for message in unchecked:
        if allowed:
            typer.echo(f"warning: {message}", err=True)
        else:
            raise CliError(
                f"{message}; nothing enqueued (check --template and --templates-dir, or "
                "pass --allow-unchecked-template to send anyway)"
            )


def _interrupted(what: str) -> NoReturn:
    typer.echo("", err=True)
    typer.echo(
        f"interrupted {what}. Running the same command again sends nothing twice: the ids "
        "are the same, and the sender skips those it already sent.",
        err=True,
    )
    raise typer.Exit(130)


def _report_refused(rows: Sequence[campaign.Row]) -> None:
    for row in rows:
        if row.refused:
            typer.echo(f"line {row.line}: {row.error}", err=True)


def _dry_run_summary(
    rows: int, bodies: Sequence[str], refused: int, suppressed: int | None, already: int
) -> None:
    """The real run's summary line, in the conditional: the same counts and ids."""
    extra = f", suppressed {suppressed}" if suppressed is not None else ""
    extra += f", already sent {already}" if already else ""
    typer.echo(f"dry run: rows {rows}, would enqueue {len(bodies)}, refused {refused}{extra}")
    if bodies:
        typer.echo(f"first message: {bodies[0]}")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f}/s")


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def _send_queue(
    queue_url: str | None, stack: str | None, local: bool, workers: int
) -> tuple[Any, str]:
    """An SQS client and the queue's URL, checked to exist (a one-line error if not)."""
    url = target.resolve({queues.QUEUE_URL: queue_url}, stack=stack, local=local)[queues.QUEUE_URL]
    sqs = queues.sqs_client(max_pool=workers + 2)
    queues.queue_arn(sqs, url)
    return sqs, url


def _send(
    sqs: Any, url: str, bodies: Sequence[str], workers: int, *, rows: int, refused: int
) -> queues.SendReport:
    enqueued = 0

    def sent(count: int) -> None:
        nonlocal enqueued
        enqueued += count
        progress.advance(task, count)

    try:
        with _progress("enqueue") as progress:
            task = progress.add_task("enqueue", total=len(bodies))
            return queues.Enqueuer(sqs, url, workers=workers, on_sent=sent).send(bodies)
    except KeyboardInterrupt:
        _interrupted(
            f"after enqueuing {enqueued} of {len(bodies)} (rows {rows}, refused {refused}, "
            f"onto {url})"
        )


# --- dlq ------------------------------------------------------------------------------------


@dlq_app.command("show")
def dlq_show(
    dlq_url: DlqUrlOption = None,
    stack: StackOption = None,
    local: LocalOption = False,
    max_messages: Annotated[
        int, typer.Option("--max", min=1, help="At most this many messages are sampled.")
    ] = 100,
    visibility_timeout: Annotated[
        int,
        typer.Option(
            min=1,
            max=43200,
            help="Seconds the sampled messages stay hidden while sampling, should it be "
            "interrupted (when done, they are made visible again at once).",
        ),
    ] = 30,
    samples: Annotated[int, typer.Option(min=0, help="Samples shown per ErrorCode.")] = 2,
) -> None:
    """Count the DLQ's messages by ErrorCode and show a few with their reasons.

    It samples: it receives up to --max messages and does not delete them; when done it
    makes them visible again at once, so a second `show` or a `redrive` sees them all.
    Each sample names its campaign tag and message `id`. Messages without ErrorCode were
    moved by the queue's redrive policy after maxReceiveCount receives: shown as
    RetriesExhausted.

    Example:

        python -m bulkmail dlq show --stack BulkEmailSender
    """
    url = target.resolve({queues.DLQ_URL: dlq_url}, stack=stack, local=local)[queues.DLQ_URL]
    sample = dlq_tools.sample_dlq(
        queues.sqs_client(), url, limit=max_messages, visibility_timeout=visibility_timeout
    )
    for line in dlq_tools.describe_sample(sample, per_code=samples):
        typer.echo(line)


@dlq_app.command("redrive")
def dlq_redrive(
    dlq_url: DlqUrlOption = None,
    queue_url: QueueUrlOption = None,
    stack: StackOption = None,
    local: LocalOption = False,
    code: Annotated[
        str | None,
        typer.Option(
            "--code",
            help="Move only the messages with this ErrorCode (as `dlq show` names them, "
            "RetriesExhausted included); moves by receive, send, delete.",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    copy: Annotated[
        bool,
        typer.Option(
            "--copy",
            help="Move by receive, send, delete instead of an SQS message move task (drops "
            "the handler's ErrorCode, ErrorMessage, SourceMessageId, FailedAt attributes).",
        ),
    ] = False,
    max_messages: Annotated[
        int | None,
        typer.Option("--max", min=1, help="With --copy or --code: move at most this many."),
    ] = None,
) -> None:
    """Move the DLQ's messages back to the send queue, to be sent again.

    Uses an SQS message move task naming the destination (messages the handler wrote have no
    source queue of their own); where the endpoint has none, or with --copy, it receives,
    sends and deletes. Always prints the destination; asks first unless --yes.

    Example:

        python -m bulkmail dlq redrive --stack BulkEmailSender --yes
    """
    given = {queues.DLQ_URL: dlq_url, queues.QUEUE_URL: queue_url}
    urls = target.resolve(given, stack=stack, local=local)
    sqs = queues.sqs_client()
    redrive = dlq_tools.Redrive.plan(sqs, urls[queues.DLQ_URL], urls[queues.QUEUE_URL])
    typer.echo(f"from:        {redrive.dlq_url}")
    typer.echo(f"destination: {redrive.queue_url} ({redrive.queue_arn})")
    which = f"the messages with ErrorCode {code} of about" if code else "about"
    if not yes:
        question = f"Move {which} {redrive.approximate} message(s) to the destination?"
        typer.confirm(question, abort=True)
    if code:
        moved, kept = dlq_tools.copy_messages(sqs, redrive, limit=max_messages, code=code)
        typer.echo(
            f"moved {moved} message(s) with ErrorCode {code} to {redrive.queue_url}; "
            f"{kept} other(s) left on the DLQ"
        )
        return
    handle = None if copy else dlq_tools.start_move_task(sqs, redrive)
    if handle:
        typer.echo(
            f"started SQS message move task {handle} to {redrive.queue_url}; follow it with: "
            f"aws sqs list-message-move-tasks --source-arn {redrive.dlq_arn}"
        )
        return
    if not copy:
        typer.echo("this endpoint has no SQS message move task: moving by receive, send, delete")
    moved, _ = dlq_tools.copy_messages(sqs, redrive, limit=max_messages)
    typer.echo(f"moved {moved} message(s) to {redrive.queue_url}")
    if moved < redrive.approximate and max_messages is None:
        typer.echo(
            f"note: the DLQ held about {redrive.approximate}; the others were in flight "
            "(received by another reader): run it again once they are visible",
            err=True,
        )


@dlq_app.command("purge")
def dlq_purge(
    dlq_url: DlqUrlOption = None,
    stack: StackOption = None,
    local: LocalOption = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete every message on the DLQ (SQS PurgeQueue): for dead letters you have read and
    will not send again. Says how many it held first, and asks unless --yes.

    Example:

        python -m bulkmail dlq purge --stack BulkEmailSender
    """
    url = target.resolve({queues.DLQ_URL: dlq_url}, stack=stack, local=local)[queues.DLQ_URL]
    sqs = queues.sqs_client()
    held = sum(queues.queue_depth(sqs, url).values())
    typer.echo(f"dlq: {url} (about {held} message(s))")
    if not yes:
        typer.confirm(f"Delete about {held} message(s) for good?", abort=True)
    sqs.purge_queue(QueueUrl=url)
    typer.echo(f"purged {url}: its messages are deleted (SQS takes up to 60 s to finish)")


# --- template -------------------------------------------------------------------------------

TemplateName = Annotated[
    str,
    typer.Argument(
        metavar="NAME", help="Template name (or ARN): NAME.json in --templates-dir, else SES."
    ),
]
DataFile = Annotated[
    Path, typer.Argument(metavar="DATA.json", help="One recipient's data: one JSON object.")
]
RegionOption = Annotated[
    str | None,
    typer.Option("--region", help="SES region (default: the standard AWS environment)."),
]


def _load(
    name: str, templates_dir: Path, region: str | None, prefix: str, local: bool
) -> templates.Template:
    if local:
        target.use_local()
    store = templates.TemplateStore(templates_dir, region=None if local else region, prefix=prefix)
    return store.load(name)


@template_app.command("check")
def template_check(
    name: TemplateName,
    data_file: DataFile,
    templates_dir: TemplatesDirOption = templates.DEFAULT_DIR,
    template_prefix: TemplatePrefixOption = "",
    region: RegionOption = None,
    local: LocalOption = False,
) -> None:
    """List the variables a template requires (outside conditionals) and check data has them.

    Prints `requires: a, b`, then `ok` (exit 0) or `missing: a, b` (exit 1): the data
    `enqueue` would refuse and the Lambda would dead-letter as MissingTemplateData.

    Example:

        python -m bulkmail template check welcome data.json
    """
    data = templates.load_json_object(data_file, "data")
    template = _load(name, templates_dir, region, template_prefix, local)
    try:
        required = template.required()
    except render.TemplateSyntaxError as error:
        raise CliError(f"template {template.name}: {error}") from None
    typer.echo(f"requires: {', '.join(sorted(required)) or '(nothing)'}")
    missing = missing_variables(required, data)
    if missing:
        typer.echo(f"missing: {', '.join(missing)}")
        raise typer.Exit(1)
    typer.echo("ok")


@template_app.command("render")
def template_render(
    name: TemplateName,
    data_file: DataFile,
    templates_dir: TemplatesDirOption = templates.DEFAULT_DIR,
    template_prefix: TemplatePrefixOption = "",
    region: RegionOption = None,
    local: LocalOption = False,
) -> None:
    """Render a template's subject, text and HTML with one recipient's data, as SES would.

    Nothing is HTML-escaped (SES does not escape). A variable the data lacks is a one-line
    error naming it (exit 1).

    Example:

        python -m bulkmail template render welcome data.json
    """
    data = templates.load_json_object(data_file, "data")
    template = _load(name, templates_dir, region, template_prefix, local)
    rendered: dict[str, str] = {}
    for part, text in template.parts.items():
        try:
            rendered[part] = render.render(text, data) if text else ""
        except render.RenderError as error:
            raise templates.TemplateDataError(f"{template.name} {part}: {error}") from None
        except render.TemplateSyntaxError as error:
            raise CliError(f"template {template.name} {part}: {error}") from None
    typer.echo(f"subject: {rendered['subject']}")
    for part in ("text", "html"):
        typer.echo(f"--- {part} ---")
        text = rendered[part] if template.parts[part] else f"(no {part} part)"
        typer.echo(text, nl=not text.endswith("\n"))


# --- demo -----------------------------------------------------------------------------------


@app.command()
def demo(
    rows: Annotated[
        int, typer.Option(min=1, max=100_000, help="Recipients in the sample campaign.")
    ] = 1000,
    faults: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of SES entries failed and of calls throttled by the emulator, e.g. 0.1.",
        ),
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of every random choice (faults).")] = 0,
    daily_quota: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Give the emulated SES account this 24-hour quota, with the window shortened "
            "to seconds: below the campaign size, the sender pauses and resumes by itself.",
        ),
    ] = None,
    log_file: Annotated[
        Path | None,
        typer.Option(help="Where the handler's JSON logs go (default: a file in the temp dir)."),
    ] = None,
    at_local: Annotated[
        bool,
        typer.Option(
            "--at-local",
            help="Schedule the sample for 09:00 in three recipients' zones (Tokyo, Berlin, "
            "New York) and watch them go out in order, on a clock compressed to about 30 s.",
        ),
    ] = False,
) -> None:
    """Run the whole system locally, on an embedded AWS emulator: no AWS account needed.

    Starts moto's server in this process, provisions the queue, DLQ, identity, templates,
    configuration set and idempotency table, enqueues the sample campaign (examples/) with
    this CLI's enqueue code plus a few bad raw messages put past the checks, polls the queue
    as Lambda does and invokes the real handler, then prints what happened. --faults makes
    the emulator fail a share of sends, so retries and the DLQ can be seen working.
    --daily-quota N (below the campaign) shows a pause: the sender stops at the quota, waits
    for the emulated window (seconds, not 24 hours) and resumes by itself.

    Example:

        python -m bulkmail demo --rows 1000 --faults 0.1
        python -m bulkmail demo --daily-quota 400
    """
    from bulkmail import local  # the emulator and the handler load only for the demo

    log_path = log_file or Path(tempfile.gettempdir()) / "bulkmail-demo.log"
    campaign_rows, raw_rows = local.demo_rows(rows)
    settings = local.LocalSettings(log_file=log_path, daily_quota=daily_quota)
    if at_local:
        from bulkmail.local.zones_demo import run_zones_demo

        typer.echo(f"sample campaign: {len(campaign_rows)} rows at 09:00 in three zones")
        result = run_zones_demo(campaign_rows, settings=settings, echo=typer.echo)
        typer.echo(f"handler logs: {log_path}")
        if not result.balanced or len(result.order) != 3:
            raise typer.Exit(1)
        return
    typer.echo(
        f"sample campaign: {len(campaign_rows)} rows + {len(raw_rows)} raw messages put past "
        "the checks (--no-validate)"
    )
    typer.echo(settings.describe())
    with _progress("sending") as progress:
        total = sum(row.body is not None for row in (*campaign_rows, *raw_rows))
        task = progress.add_task("sending", total=total)

        def show(snapshot: local.Progress) -> None:
            progress.update(task, completed=snapshot.sent + snapshot.dead_lettered)

        summary = local.run_local(
            [*campaign_rows, *raw_rows],
            faults=faults,
            seed=seed,
            settings=settings,
            on_progress=show,
            then=local.unsubscribe_loop,
        )
    typer.echo("")
    for line in summary.lines():
        typer.echo(line)
    typer.echo(f"handler logs: {log_path}")
    if not (
        summary.drained
        and summary.rows_balance
        and summary.enqueued_balance
        and summary.follow_up_ok
        and summary.status_balance
        and (summary.agrees_with_status or not summary.campaigns)
    ):
        raise typer.Exit(1)


app.command("local")(local_command.local)
app.command("send-test")(send_test.send_test)
app.command("doctor")(doctor.doctor)


def main() -> None:
    """The console entry point."""
    app(prog_name=PROG)
