"""A flood of junk tokens against the local endpoint (real HTTP on 127.0.0.1, the real handler)
is refused cheaply, and the genuine one-click POSTs sent in the middle of it are answered."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.error import HTTPError

import boto3
import pytest

from bulk_sender.recipient_hash import sign
from bulk_sender.unsubscribe import load_keys
from bulkmail.local import LocalRun, LocalSettings, one_click
from bulkmail.local import emulator as emu

pytestmark = pytest.mark.e2e

GENUINE = 10
JUNK = 300  # bounded: half malformed, half well formed with a forged MAC
WORKERS = 8


@pytest.fixture(scope="module")
def server() -> Iterator[emu.Emulator]:
    with emu.start_server() as running:
        yield running


@pytest.fixture
def local(server: emu.Emulator, tmp_path: Path) -> Iterator[LocalRun]:
    with LocalRun(LocalSettings(log_file=tmp_path / "handler.log"), emulator=server) as run:
        yield run


def status(url: str) -> int:
    try:
        return one_click(url, timeout=30)
    except HTTPError as error:
        return error.code


def test_genuine_posts_are_answered_while_a_flood_of_junk_tokens_is_refused_cheaply(local):
    # Given the endpoint's AWS calls counted (every client made from here on)
    boto3.setup_default_session()
    calls: Counter[str] = Counter()
    for event in ("before-call.dynamodb.PutItem", "before-call.secrets-manager.GetSecretValue"):
        boto3.DEFAULT_SESSION.events.register(
            event, lambda event_name, **_: calls.update([event_name])
        )
    keys = load_keys(boto3.client("secretsmanager"), local.urls["UnsubscribeSecretArn"])
    calls.clear()
    base = local.urls["UnsubscribeUrl"]
    rng = random.Random(22)
    genuine = [
        f"{base}?t={sign(keys, 'news', keys.current_hash(f'reader{n}@example.org'))}"
        for n in range(GENUINE + 1)
    ]
    junk = [
        f"{base}?t={''.join(rng.choice('abcxyz.-_%20') for _ in range(rng.randrange(1, 200)))}"
        if n % 2
        else f"{base}?t=1.news.{rng.getrandbits(128):032x}.{rng.getrandbits(128):032x}"
        for n in range(JUNK)
    ]
    # ... and a cold endpoint: malformed tokens are refused before the secret is even read
    assert [status(url) for url in junk[1:40:2]] == [400] * 20
    assert calls == {}
    # ... then warm (one genuine POST: it reads the secret, as a container does)
    assert status(genuine.pop()) == 200
    # When the junk and the genuine POSTs arrive interleaved, eight at a time
    requests = junk[:]
    for n, url in enumerate(genuine):
        requests.insert((n + 1) * len(junk) // (GENUINE + 1), url)
    with ThreadPoolExecutor(WORKERS) as pool:
        answers = dict(zip(requests, pool.map(status, requests), strict=True))
    # Then every genuine POST was answered 200, and every junk one 400
    assert [answers[url] for url in genuine] == [200] * GENUINE
    assert Counter(answers[url] for url in junk) == {400: JUNK}
    # And the junk cost no write and no read of the secret: DynamoDB saw one PutItem per genuine
    # unsubscribe, Secrets Manager one read in all (the warm-up's)
    assert calls == {
        "before-call.dynamodb.PutItem": GENUINE + 1,
        "before-call.secrets-manager.GetSecretValue": 1,
    }
    table = local.urls["SuppressionTableName"]
    assert boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"] == GENUINE + 1
