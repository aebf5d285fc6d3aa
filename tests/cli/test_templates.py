"""Issue 8 in the CLI: `template check`, `template render`, and enqueue's template data check.

Templates come from a test directory, or from SES: moto in process (`mock_aws`) with the
emulator's GetEmailTemplate installed; no sockets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from bulkmail.cli import app
from bulkmail.local import emulator
from tests.cli.queues import bodies

SENDER = "News <news@example.com>"
PROMO = {
    "subject": "{{name}}, your code",
    "text": "Hello {{name}},\nYour code: {{code}}\n{{#if extra}}Also: {{extra}}{{/if}}\n",
    "html": "<p>Hello {{name}}, your code is <b>{{code}}</b></p>",
}


@pytest.fixture(autouse=True)
def in_process_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in process, with SES v2 GetEmailTemplate: no client may reach a server."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("BULKMAIL_ID_KEY", raising=False)
    emulator.install()
    with mock_aws():
        yield


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """Given a templates directory holding `promo` (requires name and code; extra is optional)."""
    directory = tmp_path / "templates"
    directory.mkdir()
    (directory / "promo.json").write_text(json.dumps(PROMO), encoding="utf-8")
    return directory


@pytest.fixture
def queue_url() -> str:
    return boto3.client("sqs").create_queue(QueueName="send")["QueueUrl"]


def write_json(path: Path, doc: Any) -> str:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def assert_one_line_error(result: Any, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert text in result.stderr
    assert "Traceback" not in result.output


# --- help -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["template"], ["template", "check"], ["template", "render"]])
def test_every_template_help_says_what_it_does_with_an_example(command: list[str]) -> None:
    # When a template command's help is asked for
    result = invoke(*command, "--help")

    # Then it exits 0 and shows an example
    assert result.exit_code == 0
    assert "Example" in result.output
    assert "python -m bulkmail template " in result.output


# --- template check -------------------------------------------------------------------------


def test_check_lists_the_required_variables_and_passes_complete_data(
    templates_dir: Path, tmp_path: Path
) -> None:
    # Given data with name and code (no `extra`: it is inside {{#if}})
    data = write_json(tmp_path / "data.json", {"name": "Ann", "code": "X1"})

    # When it is checked
    result = invoke("template", "check", "promo", data, "--templates-dir", str(templates_dir))

    # Then the variables are listed, and it exits 0
    assert result.exit_code == 0, result.output
    assert "requires: code, name" in result.stdout
    assert "missing" not in result.stdout


def test_check_names_the_missing_variables_and_exits_1(templates_dir: Path, tmp_path: Path) -> None:
    # Given data without code (a null name counts as missing too)
    data = write_json(tmp_path / "data.json", {"name": None, "extra": "x"})

    # When it is checked
    result = invoke("template", "check", "promo", data, "--templates-dir", str(templates_dir))

    # Then the missing variables are named, and it exits 1
    assert result.exit_code == 1
    assert "missing: code, name" in result.stdout


def test_check_fetches_a_template_from_ses_when_no_file_has_it(
    templates_dir: Path, tmp_path: Path
) -> None:
    # Given a template only in SES
    boto3.client("sesv2").create_email_template(
        TemplateName="remote", TemplateContent={"Subject": "Hi {{first}}", "Text": "{{last}}"}
    )
    data = write_json(tmp_path / "data.json", {"first": "Ann"})

    # When data lacking `last` is checked against it
    result = invoke("template", "check", "remote", data, "--templates-dir", str(templates_dir))

    # Then SES's template was used
    assert result.exit_code == 1
    assert "requires: first, last" in result.stdout
    assert "missing: last" in result.stdout


def test_check_of_an_unknown_template_or_bad_data_is_a_one_line_error(
    templates_dir: Path, tmp_path: Path
) -> None:
    data = write_json(tmp_path / "data.json", {"name": "Ann"})
    not_object = write_json(tmp_path / "list.json", [1])

    # When the template exists nowhere, then one line, exit 2
    result = invoke("template", "check", "nowhere", data, "--templates-dir", str(templates_dir))
    assert_one_line_error(result, 2, "template nowhere: not in")

    # When the data is not one JSON object, then one line, exit 2
    result = invoke("template", "check", "promo", not_object, "--templates-dir", str(templates_dir))
    assert_one_line_error(result, 2, "must be one JSON object")


# --- template render ------------------------------------------------------------------------


def test_render_prints_each_part_labelled(templates_dir: Path, tmp_path: Path) -> None:
    # Given complete data
    data = write_json(tmp_path / "data.json", {"name": "Ann", "code": "<X1>"})

    # When the template is rendered
    result = invoke("template", "render", "promo", data, "--templates-dir", str(templates_dir))

    # Then the subject, text and html are shown as a recipient gets them (no HTML escaping)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "subject: Ann, your code\n"
        "--- text ---\n"
        "Hello Ann,\nYour code: <X1>\n\n"
        "--- html ---\n"
        "<p>Hello Ann, your code is <b><X1></b></p>\n"
    )


def test_render_with_a_missing_variable_is_a_one_line_error(
    templates_dir: Path, tmp_path: Path
) -> None:
    # Given data without code
    data = write_json(tmp_path / "data.json", {"name": "Ann"})

    # When the template is rendered
    result = invoke("template", "render", "promo", data, "--templates-dir", str(templates_dir))

    # Then one line names the variable, exit 1
    assert_one_line_error(result, 1, "code on line 2 is missing from the data")


# --- enqueue --------------------------------------------------------------------------------


def enqueue(path: Path, queue_url: str, templates_dir: Path, *extra: str) -> Any:
    return invoke(
        "enqueue",
        str(path),
        "--campaign",
        "spring",
        "--queue-url",
        queue_url,
        "--from",
        SENDER,
        "--templates-dir",
        str(templates_dir),
        *extra,
    )


def test_enqueue_refuses_a_row_missing_a_variable_with_its_line_and_sends_the_others(
    templates_dir: Path, tmp_path: Path, queue_url: str
) -> None:
    # Given a JSONL campaign whose line 2 lacks `code`
    lines = [
        {"to": "ann@example.org", "template": "promo", "data": {"name": "Ann", "code": "A"}},
        {"to": "bob@example.org", "template": "promo", "data": {"name": "Bob"}},
        {"to": "chloe@example.org", "template": "promo", "data": {"name": "C", "code": "C"}},
    ]
    path = tmp_path / "spring.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    # When it is enqueued
    result = enqueue(path, queue_url, templates_dir)

    # Then line 2 is refused with the variable named (and no address), the others are queued
    assert result.exit_code == 1, result.output
    assert "line 2: data: lacks code required by promo" in result.stderr
    assert "bob@example.org" not in result.output
    assert "rows 3, enqueued 2, refused 1" in result.stdout
    assert {body["to"] for body in bodies(boto3.client("sqs"), queue_url)} == {
        "ann@example.org",
        "chloe@example.org",
    }


def test_a_csv_campaign_row_missing_a_variable_is_refused_by_line(
    templates_dir: Path, tmp_path: Path, queue_url: str
) -> None:
    # Given a CSV without a `code` column (CSV rows share their columns, and an empty cell is
    # present: SES renders it as nothing), and a row of the wrong width on line 3
    path = tmp_path / "spring.csv"
    path.write_text("email,name\nann@example.org,Ann\nbob@example.org\n", encoding="utf-8")

    # When it is enqueued with the promo template (which requires code)
    result = enqueue(path, queue_url, templates_dir, "--template", "promo")

    # Then each row is refused by its line number and its own reason
    assert result.exit_code == 1
    assert "line 2: data: lacks code required by promo" in result.stderr
    assert "line 3: row: 1 cells, the header has 2" in result.stderr
    assert bodies(boto3.client("sqs"), queue_url) == []

    # And with a code column the same campaign is enqueued
    path.write_text("email,name,code\nann@example.org,Ann,A\n", encoding="utf-8")
    result = enqueue(path, queue_url, templates_dir, "--template", "promo")
    assert result.exit_code == 0, result.output
    assert [body["data"] for body in bodies(boto3.client("sqs"), queue_url)] == [
        {"name": "Ann", "code": "A"}
    ]


def test_an_unknown_template_stops_the_campaign_unless_allowed(
    templates_dir: Path, tmp_path: Path, queue_url: str
) -> None:
    # Given a campaign naming a template that is neither a file nor in SES
    path = tmp_path / "spring.csv"
    path.write_text("email,name\nann@example.org,Ann\nbob@example.org,Bob\n", encoding="utf-8")

    # When it is enqueued
    result = enqueue(path, queue_url, templates_dir, "--template", "nowhere")

    # Then one line names the template and where it looked, and nothing is enqueued
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert f"template nowhere: not in {templates_dir}/ nor in SES (eu-west-1)" in result.stderr
    assert bodies(boto3.client("sqs"), queue_url) == []

    # When it is enqueued with --allow-unchecked-template, then it warns once and sends all
    result = enqueue(
        path, queue_url, templates_dir, "--template", "nowhere", "--allow-unchecked-template"
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.count("template nowhere cannot be checked") == 1
    assert "rows 2, enqueued 2, refused 0" in result.stdout


def test_a_template_ses_cannot_be_asked_about_is_one_line_naming_it(
    templates_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no credentials at all, and a template that is not a file
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    path = tmp_path / "spring.csv"
    path.write_text("email,name\nann@example.org,Ann\n", encoding="utf-8")

    # When a dry run names it
    result = invoke(
        "enqueue",
        str(path),
        "--campaign",
        "spring",
        "--dry-run",
        "--from",
        SENDER,
        "--template",
        "elsewhere",
        "--templates-dir",
        str(templates_dir),
    )

    # Then one line names the template, where it looked, and the way past it
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert f"template elsewhere: not in {templates_dir}/, and SES could not be asked" in (
        result.stderr
    )
    assert "--allow-unchecked-template" in result.stderr


def test_a_jsonl_line_naming_an_unknown_template_stops_the_campaign(
    templates_dir: Path, tmp_path: Path, queue_url: str
) -> None:
    # Given JSONL lines, the second naming a template that exists nowhere
    path = tmp_path / "spring.jsonl"
    lines = [
        {
            "to": "ann@example.org",
            "from": "news@example.com",
            "template": "promo",
            "data": {"name": "Ann", "code": "A"},
        },
        {"to": "bob@example.org", "from": "news@example.com", "template": "typo"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    # When it is enqueued, then exit 2 names the template; nothing is enqueued
    result = enqueue(path, queue_url, templates_dir)
    assert result.exit_code == 2, result.output
    assert "template typo cannot be checked" in result.stderr
    assert bodies(boto3.client("sqs"), queue_url) == []


def test_inline_content_is_checked_and_no_validate_skips_the_check(
    templates_dir: Path, tmp_path: Path, queue_url: str
) -> None:
    # Given inline content requiring `code`, and a CSV without it
    content = write_json(tmp_path / "content.json", {"subject": "Hi", "text": "{{code}}"})
    path = tmp_path / "spring.csv"
    path.write_text("email,name\nann@example.org,Ann\n", encoding="utf-8")

    # When it is enqueued, then the row is refused
    result = enqueue(path, queue_url, templates_dir, "--content-file", content)
    assert result.exit_code == 1
    assert "line 2: data: lacks code required by inline content" in result.stderr

    # When it is enqueued with --no-validate, then it goes out unchecked
    result = enqueue(path, queue_url, templates_dir, "--content-file", content, "--no-validate")
    assert result.exit_code == 0, result.output
    assert len(bodies(boto3.client("sqs"), queue_url)) == 1


# --- the deployment's names (issue 13) ------------------------------------------------------


def test_a_template_prefix_fetches_the_prefixed_name_from_ses(
    templates_dir: Path, tmp_path: Path
) -> None:
    # Given a stack deployed with template_prefix "shop-": SES holds shop-remote, not remote
    boto3.client("sesv2").create_email_template(
        TemplateName="shop-remote", TemplateContent={"Subject": "Hi {{first}}", "Text": "x"}
    )
    data = write_json(tmp_path / "data.json", {"first": "Ann"})
    args = ["template", "check", "remote", data, "--templates-dir", str(templates_dir)]

    # When `remote` is checked with the prefix (option or TEMPLATE_PREFIX), and without
    with_option = invoke(*args, "--template-prefix", "shop-")
    with_env = CliRunner().invoke(app, args, env={"TEMPLATE_PREFIX": "shop-"})
    without = invoke(*args)

    # Then SES's shop-remote is used, as the sender would send it; without, it is not found
    assert with_option.exit_code == 0, with_option.output
    assert "requires: first" in with_option.stdout
    assert with_env.exit_code == 0, with_env.output
    assert_one_line_error(without, 2, "template remote: not in")
    # And a prefix SES cannot hold is refused as a bad option
    assert invoke(*args, "--template-prefix", "a/b").exit_code == 2


def test_enqueue_refuses_a_row_naming_a_configuration_set_the_stack_does_not_allow(
    templates_dir: Path, tmp_path: Path, queue_url: str
) -> None:
    # Given a campaign whose line 2 names a configuration set the stack does not allow
    lines = [
        {"to": "ann@example.org", "template": "promo", "data": {"name": "A", "code": "A"}},
        {
            "to": "bob@example.org",
            "template": "promo",
            "data": {"name": "B", "code": "B"},
            "configuration_set": "someone-elses",
        },
        {
            "to": "cy@example.org",
            "template": "promo",
            "data": {"name": "C", "code": "C"},
            "configuration_set": "marketing",
        },
    ]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    # When it is enqueued with the stack's allowed sets
    result = enqueue(
        path, queue_url, templates_dir, "--allowed-configuration-sets", "own,marketing"
    )

    # Then line 2 is refused with the sender's reason, and the others are queued
    assert result.exit_code == 1, result.output
    assert (
        "line 2: configuration_set: not one this sender may use (ALLOWED_CONFIGURATION_SETS)"
        in result.stderr
    )
    assert "rows 3, enqueued 2, refused 1" in result.stdout
