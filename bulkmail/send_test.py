"""`python -m bulkmail send-test`: a campaign's first rows, as their recipients get them, to one
address (DESIGN.md section 11).

The rows are read and checked exactly as `enqueue` reads them (bulkmail.campaign); each of the
first `--rows` valid ones is then sent to `--to` alone (cc and bcc dropped) with a fresh id
(`{campaign}-test:{random}`) and the tag `campaign={campaign}-test`, so the sender never takes
it for a duplicate and the campaign's own counts stay clean. Its data, template, sender and
headers are the row's own: the email is the one that row's recipient would get.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from bulk_sender.message import Defaults, InvalidMessage, parse_message
from bulk_sender.names import Env
from bulk_sender.template_names import PREFIX_PATTERN
from bulkmail import campaign, queues, target, templates
from bulkmail.errors import CliError

TEST_SUFFIX = "-test"


def addressed_to_one(
    rows: list[campaign.Row], *, to: str, options: campaign.CampaignOptions, count: int
) -> list[tuple[int, str]]:
    """(line, body) of the first `count` valid rows, addressed to `to` with fresh ids."""
    name = f"{options.campaign}{TEST_SUFFIX}"
    chosen: list[tuple[int, str]] = []
    for row in rows:
        if len(chosen) == count:
            break
        if row.body is None:
            continue
        doc: dict[str, Any] = json.loads(row.body)
        doc["to"] = [to]
        doc.pop("cc", None)
        doc.pop("bcc", None)
        doc["id"] = f"{name}:{uuid.uuid4().hex}"
        doc["tags"] = {**doc.get("tags", {}), campaign.CAMPAIGN_TAG: name}
        if options.unsubscribe_url:
            doc["headers"] = {
                **doc.get("headers", {}),
                **campaign.unsubscribe_headers(options.unsubscribe_url, doc["id"]),
            }
        chosen.append((row.line, json.dumps(doc, ensure_ascii=False, separators=(",", ":"))))
    return chosen


def check_address(address: str) -> None:
    probe = json.dumps({"to": address, "from": "p@example.com", "template": "probe"})
    try:
        parse_message(probe, message_id="send-test", defaults=Defaults())
    except InvalidMessage as error:
        raise CliError(f"--to: {error.rule}") from None


def send_test(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The campaign's .csv or .jsonl, as for enqueue.")
    ],
    to: Annotated[str, typer.Option("--to", help="The one address every test email goes to.")],
    campaign_name: Annotated[
        str, typer.Option("--campaign", help="Campaign name (the tests are tagged NAME-test).")
    ],
    rows: Annotated[int, typer.Option("--rows", min=1, max=50, help="How many rows.")] = 3,
    queue_url: Annotated[
        str | None, typer.Option("--queue-url", help="The send queue's URL (or --stack, --local).")
    ] = None,
    stack: target.StackOption = None,
    local: target.LocalOption = False,
    from_address: Annotated[
        str | None, typer.Option("--from", help="Sender, e.g. `News <news@example.com>`.")
    ] = None,
    template: Annotated[str | None, typer.Option(help="SES template name (or ARN).")] = None,
    content_file: Annotated[
        Path | None,
        typer.Option(help="Inline template instead: a JSON file with subject, text, html."),
    ] = None,
    unsubscribe_url: Annotated[
        str | None, typer.Option(help="One-click unsubscribe URL with {id}, as for enqueue.")
    ] = None,
    templates_dir: Annotated[
        Path, typer.Option("--templates-dir", help="Where NAME.json templates are.")
    ] = templates.DEFAULT_DIR,
    template_prefix: Annotated[
        str,
        typer.Option(
            "--template-prefix",
            envvar=Env.TEMPLATE_PREFIX,
            show_envvar=True,
            help="The stack's template_prefix, as for enqueue.",
        ),
    ] = "",
) -> None:
    """Send a campaign's first rows to one address, as their recipients would get them.

    Each test email has the row's template, data, sender and headers, goes to --to only,
    and has a fresh id every time: never taken for a duplicate, so it can be sent again
    after fixing the template. In the SES sandbox, --to must be a verified identity.

    Example:

        python -m bulkmail send-test campaign.csv --to me@example.com --campaign spring \\
            --template welcome --from 'News <news@example.com>' --local
    """
    check_address(to)
    if not PREFIX_PATTERN.fullmatch(template_prefix):
        raise CliError("--template-prefix: must be 0 to 63 of A-Z a-z 0-9 _ -")
    unchecked: list[str] = []
    options = campaign.CampaignOptions(
        campaign=campaign_name,
        from_address=from_address,
        template=template,
        content=campaign.load_content(content_file) if content_file else None,
        unsubscribe_url=unsubscribe_url,
        render_check=templates.row_check(
            templates.TemplateStore(templates_dir, prefix=template_prefix), unchecked.append
        ),
    )
    campaign.check_file(file)
    url = target.resolve({queues.QUEUE_URL: queue_url}, stack=stack, local=local)[queues.QUEUE_URL]
    sqs = queues.sqs_client()
    queues.queue_arn(sqs, url)
    found = campaign.read_campaign(file, options)
    if unchecked:
        raise CliError(f"{unchecked[0]}; nothing sent")
    chosen = addressed_to_one(found, to=to, options=options, count=rows)
    if not chosen:
        raise CliError(f"{file}: no valid row to send (see `enqueue --dry-run`)")
    report = queues.Enqueuer(sqs, url, workers=1).send([body for _, body in chosen])
    lines = ", ".join(str(line) for line, _ in chosen)
    typer.echo(f"sent {report.enqueued} test email(s) of lines {lines} to --to (onto {url})")
    for index, code in report.failed:
        typer.echo(f"not enqueued: line {chosen[index][0]}: {code}", err=True)
    if report.failed:
        raise typer.Exit(1)
