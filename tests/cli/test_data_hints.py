"""Data that would render wrong is refused with its cause: an empty required value, a column
under another name (with the closest one and the `--column` that maps it), and `bin/bulkmail`
finds the project's templates from any directory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bulkmail.cli import app

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = ["--campaign", "spring", "--template", "welcome", "--from", "News <news@example.com>"]


@pytest.fixture(autouse=True)
def from_the_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # templates/welcome.json: requires `name`


def dry_run(path: Path, *extra: str) -> Any:
    return CliRunner().invoke(app, ["enqueue", str(path), "--dry-run", *OPTIONS, *extra])


def first_message(output: str) -> dict[str, Any]:
    return json.loads(output.split("first message: ", 1)[1].splitlines()[0])


def test_an_empty_required_value_is_refused_unless_allowed(tmp_path: Path) -> None:
    # Given a row whose `name` is empty (it would render "Welcome, !")
    path = tmp_path / "c.csv"
    path.write_text("email,name\nann@example.org,\nbob@example.org,Bob\n", encoding="utf-8")
    # When it is enqueued, then that row is refused with its cause and the option to allow it
    refused = dry_run(path)
    assert refused.exit_code == 1, refused.output
    assert (
        "line 2: data: name is empty, required by welcome (--allow-empty name to send it empty)"
        in refused.stderr
    )
    assert "dry run: rows 2, would enqueue 1, refused 1" in refused.stdout
    # When it is allowed, then both go
    allowed = dry_run(path, "--allow-empty", "name")
    assert allowed.exit_code == 0, allowed.output
    assert "dry run: rows 2, would enqueue 2, refused 0" in allowed.stdout


def test_a_missing_variable_names_the_columns_and_the_closest_with_its_mapping(
    tmp_path: Path,
) -> None:
    # Given a file whose names are in a column `First Name`
    path = tmp_path / "c.csv"
    path.write_text("Email,First Name\nann@example.org,Ann\n", encoding="utf-8")
    # When it is enqueued, then the row is refused and one hint names the columns found and
    # the close match, with the mapping option
    refused = dry_run(path)
    assert refused.exit_code == 1, refused.output
    assert "line 2: data: lacks name required by welcome" in refused.stderr
    assert (
        "hint: the file's columns are `Email`, `First Name`; column `First Name` looks like "
        "`name`; map it with --column 'name=First Name'\n"
    ) in refused.stderr
    # When the column is mapped, then the row goes with its name
    mapped = dry_run(path, "--column", "name=First Name")
    assert mapped.exit_code == 0, mapped.output
    assert first_message(mapped.stdout)["data"] == {"name": "Ann"}


def test_a_bad_column_mapping_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("email,name\nann@example.org,Ann\n", encoding="utf-8")
    result = dry_run(path, "--column", "name")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --column 'name': give NAME=COLUMN, e.g. --column 'name=First Name'\n"
    )


def test_bin_bulkmail_finds_the_project_templates_from_any_directory(tmp_path: Path) -> None:
    # Given a campaign in another directory (no templates/ there), and no AWS to ask
    path = tmp_path / "c.csv"
    path.write_text("email,name\nann@example.org,Ann\n", encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    env = {**os.environ, "AWS_ENDPOINT_URL": closed, "AWS_MAX_ATTEMPTS": "1"}
    # When bin/bulkmail is run from there
    done = subprocess.run(
        [str(ROOT / "bin" / "bulkmail"), "enqueue", "c.csv", "--dry-run", *OPTIONS],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Then it checked the rows against the project's templates/welcome.json
    assert done.returncode == 0, done.stderr
    assert "dry run: rows 1, would enqueue 1, refused 0" in done.stdout
    assert "cannot be checked" not in done.stderr
