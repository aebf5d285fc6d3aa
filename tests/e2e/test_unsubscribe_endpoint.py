"""RFC 8058 one-click unsubscribe over real HTTP: the local endpoint on 127.0.0.1 serving the
real Lambda handler (lambda_src/unsubscribe.py) against the emulator's table and secret."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from bulk_sender.recipient_hash import Keys, recipient_hash, sign
from bulk_sender.unsubscribe import load_keys
from bulkmail.local import LocalRun, LocalSettings
from bulkmail.local import emulator as emu

pytestmark = pytest.mark.e2e

FORM = "application/x-www-form-urlencoded"
ONE_CLICK = b"List-Unsubscribe=One-Click"


@pytest.fixture(scope="module")
def server() -> Iterator[emu.Emulator]:
    with emu.start_server() as running:
        yield running


@pytest.fixture
def local(server: emu.Emulator, tmp_path: Path) -> Iterator[LocalRun]:
    settings = LocalSettings(log_file=tmp_path / "handler.log")
    with LocalRun(settings, emulator=server) as run:
        yield run


@pytest.fixture
def keys(local: LocalRun) -> Keys:
    return load_keys(boto3.client("secretsmanager"), local.urls["UnsubscribeSecretArn"])


def link(local: LocalRun, keys: Keys, address: str = "ann@example.org", name: str = "news") -> str:
    token = sign(keys, name, recipient_hash(keys.hash_key, [address]))
    return f"{local.urls['UnsubscribeUrl']}?t={token}"


def call(
    url: str, method: str = "GET", body: bytes | None = None, content_type: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request exactly as given (no header added but Host and Content-Length)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"Content-Type": content_type} if content_type else {}
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def items(local: LocalRun) -> list[dict[str, Any]]:
    table = local.urls["SuppressionTableName"]
    return boto3.client("dynamodb").scan(TableName=table)["Items"]


def test_post_one_click_unsubscribes_and_a_replay_changes_nothing(local, keys):
    # Given a recipient's signed link on the list "news"
    url = link(local, keys)
    # When a mail client POSTs the one-click body to it
    status, headers, page = call(url, "POST", ONE_CLICK, FORM)
    # Then it answers 200 with a page, and the table holds that hash on "news", no address
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    assert b"unsubscribed" in page
    (item,) = items(local)
    assert item["h"]["S"] == recipient_hash(keys.hash_key, ["ann@example.org"])
    assert item["list"]["S"] == "news"
    assert "@" not in str(item)
    # When the same POST comes again (a replay, or a second click)
    again = call(url, "POST", ONE_CLICK, FORM)
    # Then the answer is the same and nothing changed (the first time is kept)
    assert again[0] == 200
    assert again[2] == page
    assert items(local) == [item]


def test_multipart_form_data_is_accepted_as_rfc_8058_says_clients_may_send_it(local, keys):
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        b"One-Click\r\n"
        b"--b0undary--\r\n"
    )
    status, _, _ = call(link(local, keys), "POST", body, "multipart/form-data; boundary=b0undary")
    assert status == 200
    assert len(items(local)) == 1


def test_get_and_head_show_a_confirm_form_and_change_nothing(local, keys):
    # Given a link scanner fetching the link
    url = link(local, keys)
    # When it GETs and HEADs it
    get_status, get_headers, page = call(url)
    head_status, head_headers, head_body = call(url, "HEAD")
    # Then the GET shows a form that POSTs the one-click body, the HEAD answers alike, empty
    assert get_status == head_status == 200
    assert b'<form method="post">' in page
    assert b'name="List-Unsubscribe" value="One-Click"' in page
    assert head_body == b""
    assert head_headers["Content-Type"] == get_headers["Content-Type"]
    assert "form-action 'self'" in get_headers["Content-Security-Policy"]
    # And nobody was unsubscribed
    assert items(local) == []


@pytest.mark.parametrize(
    "forge",
    [
        lambda url: url[:-1],  # truncated
        lambda url: url[:-1] + ("0" if url[-1] != "0" else "1"),  # altered MAC
        lambda url: url.replace(".news.", ".all."),  # altered list
        lambda url: url.replace("?t=1.", "?t=2."),  # altered key version
        lambda url: url.split("?")[0],  # no token
        lambda url: url.split("?")[0] + "?t=%00%ff",  # malformed
        lambda url: url.split("?")[0] + "?t=1.news." + "0" * 32 + "." + "0" * 32,  # forged
    ],
    ids=[
        "truncated",
        "altered-mac",
        "altered-list",
        "altered-version",
        "missing",
        "malformed",
        "forged",
    ],
)
def test_a_bad_token_is_400_with_no_detail_and_changes_nothing(local, keys, forge):
    # Given a link whose token was tampered with
    url = forge(link(local, keys))
    # When it is POSTed and fetched
    posted = call(url, "POST", ONE_CLICK, FORM)
    fetched = call(url)
    # Then both are 400 with the same bare page (no reason given), and nothing is stored
    assert posted[0] == fetched[0] == 400
    assert posted[2] == fetched[2]
    assert b"token" not in posted[2].lower()
    assert items(local) == []


def test_the_answer_never_tells_whether_an_address_was_ever_mailed(local, keys):
    # Given links for two recipients, one of whom was never on any list
    known, unknown = link(local, keys, "ann@example.org"), link(local, keys, "never@example.net")
    # Then both answer the same, whether first or repeated
    answers = {call(url, "POST", ONE_CLICK, FORM)[2] for url in (known, unknown, known, unknown)}
    assert len(answers) == 1


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", ONE_CLICK, 415),
        ("application/json", b'{"List-Unsubscribe": "One-Click"}', 415),
        (None, ONE_CLICK, 415),
        (FORM, b"List-Unsubscribe=Two-Clicks", 400),
        (FORM, b"", 400),
        (FORM, ONE_CLICK + b"&" + b"x" * 5000, 413),  # above the endpoint's 4 KiB
        (FORM, b"x" * 70_000, 413),  # above the gateway's payload limit
    ],
    ids=["text", "json", "none", "not-one-click", "empty", "oversized", "over-gateway-limit"],
)
def test_a_post_that_is_not_the_one_click_form_changes_nothing(
    local, keys, content_type, body, status
):
    result = call(link(local, keys), "POST", body, content_type)
    assert result[0] == status
    assert items(local) == []


def test_other_methods_and_paths_are_refused(local, keys):
    url = link(local, keys)
    put = call(url, "PUT", ONE_CLICK, FORM)
    assert put[0] == 405
    assert put[1]["Allow"] == "GET, HEAD, POST"
    assert call(url.replace("/unsubscribe", "/elsewhere"))[0] == 404
    assert items(local) == []


def test_the_handler_logs_hold_no_token_address_or_secret(local, keys):
    # Given a few requests, good and bad
    url = link(local, keys)
    call(url, "POST", ONE_CLICK, FORM)
    call(url[:-3], "POST", ONE_CLICK, FORM)
    # Then the handler's log names the list of each unsubscribe, and nothing secret
    secret = boto3.client("secretsmanager").get_secret_value(
        SecretId=local.urls["UnsubscribeSecretArn"]
    )["SecretString"]
    text = local.settings.log_file.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    (line,) = [line for line in lines if line["message"] == "unsubscribed"]
    assert (line["list"], line["new"]) == ("news", True)
    # ... in the endpoint's own Lambda context
    assert line["function_name"] == "bulk-email-unsubscribe-local"
    token = url.split("?t=")[1]
    for leak in (secret, token, token.split(".")[-2], token.split(".")[-1], "@"):
        assert leak not in text
