"""The local outbox in a real browser: `python -m bulkmail local` serves it, headless
Chromium opens it, follows an email's unsubscribe link and sees its recipient suppressed.

The session runs in its own process (as a user's terminal would); waits end on state (the
page showing the email, the suppression), with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bulkmail.cli import app

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 120  # generous: the machine may be loaded; the waits end on state


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Given `python -m bulkmail local` running in its own process: its NAME=value lines."""
    saved = dict(os.environ)
    monkeypatch.setenv("BULKMAIL_LOCAL_STATE", str(tmp_path / "local.json"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "bulkmail", "local", "--log-file", str(tmp_path / "handler.log")],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.txt").open("w"),
        text=True,
    )
    try:
        names: dict[str, str] = {}
        while "OutboxUrl" not in names and (line := process.stdout.readline()):
            name, _, value = line.strip().partition("=")
            names[name] = value
        assert "OutboxUrl" in names, (tmp_path / "stderr.txt").read_text()
        wait_for("the state file", (tmp_path / "local.json").is_file)
        yield names
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        os.environ.clear()
        os.environ.update(saved)


def page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def test_the_outbox_shows_what_was_sent_and_its_unsubscribe_link_works(
    session: dict[str, str], browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    outbox = session["OutboxUrl"]
    assert outbox.startswith("http://127.0.0.1:")

    # Given a two-row campaign enqueued on the local run, and sent
    path = tmp_path / "campaign.csv"
    path.write_text("email,name\nann@example.org,Ann\nbob@example.org,Bob\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["enqueue", str(path), "--local", "--campaign", "spring", "--template", "welcome",
         "--from", "News <news@example.com>"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    wait_for("both emails on the page", lambda: page(outbox).count("/email/") == 2)

    # When the outbox is opened in a browser
    browser.get(outbox)

    # Then it lists both, newest first, with campaign, outcome and the campaign's status
    rows = browser.find_elements(By.CSS_SELECTOR, "table tr")[1:]
    assert [row.find_elements(By.TAG_NAME, "td")[1].text for row in rows] == [
        "bob@example.org",
        "ann@example.org",
    ]
    assert all(row.find_elements(By.TAG_NAME, "td")[3].text == "spring" for row in rows)
    assert "Campaign spring" in browser.page_source
    assert "enqueued" in browser.find_element(By.TAG_NAME, "pre").text

    # When Ann's email is opened
    rows[1].find_element(By.TAG_NAME, "a").click()
    detail = browser.current_url
    # Then its headers, text and sandboxed HTML are shown, her address not yet suppressed
    assert "List-Unsubscribe" in browser.page_source
    assert "Ann" in browser.find_element(By.TAG_NAME, "pre").text
    frame = browser.find_element(By.TAG_NAME, "iframe")
    assert frame.get_attribute("sandbox") == ""
    browser.switch_to.frame(frame)
    assert "Ann" in browser.find_element(By.TAG_NAME, "body").text
    browser.switch_to.default_content()
    assert browser.find_element(By.ID, "suppression").text == "Recipient: not suppressed"

    # When her unsubscribe link is followed and the endpoint's page confirmed
    browser.find_element(By.ID, "unsubscribe").click()
    wait_for("the endpoint's page", lambda: browser.current_url.startswith(
        session["UnsubscribeUrl"]))  # fmt: skip
    browser.find_element(By.CSS_SELECTOR, "button, input[type=submit]").click()

    # Then the outbox shows her suppressed
    browser.get(detail)
    assert browser.find_element(By.ID, "suppression").text.startswith("Recipient: suppressed")
