"""`import pinpoint`: a Pinpoint endpoint export (EndpointResponse per line, gzipped NDJSON)
becomes a campaign CSV and suppressions; GetEmailTemplate answers become template files."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bulkmail.cli import app
from stacks.template_files import load_templates
from tests.cli.test_suppress import stack  # noqa: F401  (the moto stack fixture)

SENDER = "News <news@example.com>"


def endpoint(address: str, **fields: Any) -> dict[str, Any]:
    """An EndpointResponse as Pinpoint's export writes it (the API reference's members)."""
    found: dict[str, Any] = {
        "Address": address,
        "ApplicationId": "6e0b7591a90841d2b1e8b3b6d6b9c0a1",
        "Attributes": {"FirstName": ["Ann"], "Interests": ["Science", "Music"]},
        "ChannelType": "EMAIL",
        "CohortId": "42",
        "CreationDate": "2024-03-01T10:00:00.000Z",
        "Demographic": {"Platform": "web", "Timezone": "Europe/Berlin", "Locale": "de_DE"},
        "EffectiveDate": "2024-03-01T10:00:00.000Z",
        "EndpointStatus": "ACTIVE",
        "Id": f"ep-{address}",
        "Location": {"Country": "DEU", "City": "Berlin"},
        "Metrics": {},
        "OptOut": "NONE",
        "RequestId": "f1c2d3",
        "User": {"UserAttributes": {"Plan": ["gold"]}, "UserId": "u-1"},
    }
    found.update(fields)
    return found


def write_export(path: Path, endpoints: list[dict[str, Any]], *, gzipped: bool = True) -> Path:
    text = "".join(json.dumps(e) + "\n" for e in endpoints)
    if gzipped:
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def exports(tmp_path: Path) -> list[Path]:
    first = write_export(
        tmp_path / "part-00000.gz",
        [
            endpoint("ann@example.org"),
            # the same person's second endpoint, updated later, other case: one row
            endpoint(
                "Ann@Example.org",
                Attributes={"FirstName": ["Anne"]},
                EffectiveDate="2025-01-01T00:00:00.000Z",
                Demographic={"Timezone": ""},
            ),
            endpoint("bob@example.org", Demographic={"Timezone": "America/New_York"}),
            endpoint("cy@example.org", OptOut="ALL"),
            endpoint("dee@example.org", EndpointStatus="INACTIVE"),
            endpoint("+14255550100", ChannelType="SMS"),
            endpoint("a1b2c3", ChannelType="APNS"),
        ],
    )
    second = write_export(
        tmp_path / "part-00001",
        [
            # opted out on one endpoint, active on another: never a row
            endpoint("eve@example.org"),
            endpoint("EVE@example.org", OptOut="ALL"),
            endpoint("fay@example.org", User={"UserId": "u-9"}, Attributes={}),
        ],
        gzipped=False,
    )
    with second.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    return [first, second]


def run(*args: str, **kwargs: Any) -> Any:
    return CliRunner().invoke(app, list(args), **kwargs)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_an_export_becomes_one_row_per_active_email_address(
    exports: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "campaign.csv"

    result = run("import", "pinpoint", *map(str, exports), "--out", str(out))

    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert [row["email"] for row in rows] == [
        "Ann@Example.org",  # the later endpoint's address and values ...
        "bob@example.org",
        "fay@example.org",
    ]
    ann, bob, fay = rows
    assert ann["FirstName"] == "Anne"
    assert ann["Interests"] == "Science, Music"  # ... the earlier fills what it lacks
    assert ann["timezone"] == "Europe/Berlin"
    assert ann["user_Plan"] == "gold"
    assert bob["timezone"] == "America/New_York"
    assert (fay["FirstName"], fay["user_Plan"]) == ("", "")
    assert list(rows[0])[:2] == ["email", "timezone"]
    assert "endpoints 10: 3 rows written" in result.output
    assert "(1 duplicate endpoints of an address merged), 2 opted out" in result.output
    for line in (
        "skipped: INACTIVE 1",
        "skipped: channel APNS 1",
        "skipped: channel SMS 1",
        "skipped: unreadable line 1",
    ):
        assert line in result.output
    assert "--suppress" in result.output


def test_opted_out_endpoints_become_suppressions(
    exports: list[Path],
    tmp_path: Path,
    stack: dict[str, str],  # noqa: F811
) -> None:
    out = tmp_path / "campaign.csv"

    result = run(
        "import",
        "pinpoint",
        *map(str, exports),
        "--out",
        str(out),
        "--suppress",
        "--stack",
        "BulkEmail",
    )

    assert result.exit_code == 0, result.output
    assert "suppressed 2 on list all (0 already were)" in result.output
    for address in ("cy@example.org", "eve@example.org"):
        check = run("suppress", "check", address, "--stack", "BulkEmail")
        assert f"{address}: suppressed" in check.stdout
    assert (
        "bob@example.org: not suppressed"
        in run("suppress", "check", "bob@example.org", "--stack", "BulkEmail").stdout
    )


def test_suppress_needs_a_stack(exports: list[Path], tmp_path: Path) -> None:
    result = run(
        "import", "pinpoint", str(exports[0]), "--out", str(tmp_path / "c.csv"), "--suppress"
    )
    assert result.exit_code == 2
    assert "--suppress needs the suppression list" in result.output


def test_a_missing_export_is_a_one_line_error(tmp_path: Path) -> None:
    result = run("import", "pinpoint", str(tmp_path / "nope.gz"), "--out", str(tmp_path / "c"))
    assert result.exit_code == 2
    assert "nope.gz: no such file" in result.output


TEMPLATE_ANSWER = {
    "EmailTemplateResponse": {
        "Arn": "arn:aws:mobiletargeting:eu-west-1:123456789012:templates/Welcome/EMAIL",
        "CreationDate": "2024-03-01T10:00:00.000Z",
        "DefaultSubstitutions": '{"Attributes.FirstName": "friend"}',
        "HtmlPart": (
            "<p>Hello {{Attributes.FirstName}},</p>"
            "{{#if User.UserAttributes.Plan}}<p>Your plan: {{User.UserAttributes.Plan}}</p>{{/if}}"
        ),
        "LastModifiedDate": "2024-03-02T10:00:00.000Z",
        "Subject": "Welcome, {{Attributes.FirstName}}",
        "TemplateName": "Welcome",
        "TemplateType": "EMAIL",
        "TextPart": "Hello {{Attributes.FirstName}} ({{Demographic.Timezone}})",
        "Version": "3",
        "tags": {},
    }
}


def test_templates_become_files_with_references_mapped_to_the_columns(
    tmp_path: Path, exports: list[Path]
) -> None:
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "welcome.json").write_text(json.dumps(TEMPLATE_ANSWER), encoding="utf-8")
    bare = dict(TEMPLATE_ANSWER["EmailTemplateResponse"], TemplateName="Bare Name")
    del bare["DefaultSubstitutions"]
    (answers / "bare.json").write_text(json.dumps(bare), encoding="utf-8")
    other = dict(bare, TemplateName="Other", Subject="Hi {{Attributes.Nickname}}")
    (answers / "other.json").write_text(json.dumps(other), encoding="utf-8")
    out_dir = tmp_path / "templates"
    campaign = tmp_path / "campaign.csv"

    result = run(
        "import",
        "pinpoint",
        *map(str, exports),
        "--out",
        str(campaign),
        "--templates",
        str(answers),
        "--templates-out",
        str(out_dir),
    )

    assert result.exit_code == 0, result.output
    welcome = json.loads((out_dir / "Welcome.json").read_text(encoding="utf-8"))
    assert welcome == {
        "subject": "Welcome, {{FirstName}}",
        "text": "Hello {{FirstName}} ({{timezone}})",
        "html": "<p>Hello {{FirstName}},</p>"
        "{{#if user_Plan}}<p>Your plan: {{user_Plan}}</p>{{/if}}",
    }
    assert "note: has DefaultSubstitutions" in result.output
    assert (out_dir / "Bare_Name.json").is_file()
    # And the files are templates the stack deploys and the CLI checks rows against
    assert {t.name for t in load_templates(out_dir)} == {"Welcome", "Bare_Name", "Other"}
    checked = run(
        "enqueue",
        str(campaign),
        "--campaign",
        "moved",
        "--template",
        "Welcome",
        "--templates-dir",
        str(out_dir),
        "--from",
        SENDER,
        "--dry-run",
    )
    # (Fay has no FirstName: Pinpoint filled it from DefaultSubstitutions, which the note
    # above flags; here an empty required value is refused, naming --allow-empty)
    assert "would enqueue 2, refused 1" in checked.output, checked.output
    assert "FirstName is empty, required by Welcome" in checked.output
    # And a reference to an attribute no endpoint has is caught before anything is sent
    lacking = run(
        "enqueue",
        str(campaign),
        "--campaign",
        "moved",
        "--template",
        "Other",
        "--templates-dir",
        str(out_dir),
        "--from",
        SENDER,
        "--dry-run",
    )
    assert "would enqueue 0, refused 3" in lacking.output, lacking.output
    assert "lacks Nickname required by Other" in lacking.output


@pytest.mark.parametrize(
    ("pinpoint", "ours"),
    [
        ("{{ Attributes.First_Name }}", "{{ First_Name }}"),
        ("{{{Attributes.Bio}}}", "{{{Bio}}}"),
        ("{{#each Attributes.Interests}}{{this}}{{/each}}", "{{#each Interests}}{{this}}{{/each}}"),
        ("{{User.UserAttributes.last-name}}", "{{user_last_name}}"),
        ("Attributes.X outside a tag", "Attributes.X outside a tag"),
    ],
)
def test_pinpoint_references_map_to_the_csv_columns(pinpoint: str, ours: str) -> None:
    from bulkmail.pinpoint import map_references

    assert map_references(pinpoint) == ours
