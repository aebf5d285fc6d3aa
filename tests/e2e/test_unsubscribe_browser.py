"""The confirm page in a real browser: headless Chromium opens the link of a locally sent email,
presses the button, and the address is suppressed (the page's Content-Security-Policy lets its
own form post)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkmail.local import LocalRun, LocalSettings
from bulkmail.local import emulator as emu
from bulkmail.suppress import explicit

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[emu.Emulator]:
    with emu.start_server() as running:
        yield running


@pytest.fixture
def local(server: emu.Emulator, tmp_path: Path) -> Iterator[LocalRun]:
    with LocalRun(LocalSettings(log_file=tmp_path / "handler.log"), emulator=server) as run:
        yield run


def is_suppressed(local: LocalRun, address: str, list_name: str) -> bool:
    lists = explicit(local.urls["SuppressionTableName"], local.urls["UnsubscribeSecretArn"])
    keys = {(h, list_name) for h in lists.hashes(address)}
    return bool(lists.table.suppressed(keys))


def test_the_confirm_page_unsubscribes_its_recipient_in_a_real_browser(local, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    # Given an email sent by the local run to ann on the list "news"
    body = '{"to": "ann@example.org", "from": "news@example.com", "template": "welcome", '
    body += '"list": "news", "data": {"name": "Ann"}}'
    (email,) = local.run([body]).sent
    link = email["data"]["unsubscribe_url"]  # the link of the email's body (its footer)
    # When the browser opens it: a confirm page, nothing changed yet (link scanners GET too)
    browser.get(link)
    assert browser.title == "Unsubscribe"
    assert not is_suppressed(local, "ann@example.org", "news")
    # ... and the reader presses the button
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 30).until(expected_conditions.title_is("You are unsubscribed"))
    # Then ann is suppressed on "news" (and no one else on any list)
    assert is_suppressed(local, "ann@example.org", "news")
    assert not is_suppressed(local, "ann@example.org", "all")
    # And the page's Content-Security-Policy let its own form post: no violation was reported
    messages = [entry["message"] for entry in browser.get_log("browser")]
    assert not [m for m in messages if "Content Security Policy" in m], messages
