"""Shared by the CLI tests: `enqueue` reads the SES quota before sending (bulkmail/quota.py).

Unless a test says otherwise, SES answers a quota no campaign here exceeds: the tests that
are not about the quota see no question and no warning, whichever SES moto serves.
"""

from __future__ import annotations

from typing import Any

import pytest

from bulkmail import quota


class QuotaSes:
    """SES v2's GetAccount, answering a given quota."""

    def __init__(
        self, max_24h: float = 1e9, sent: float = 0, rate: float = 14, enabled: bool = True
    ) -> None:
        self.answer = {
            "SendingEnabled": enabled,
            "SendQuota": {"Max24HourSend": max_24h, "SentLast24Hours": sent, "MaxSendRate": rate},
        }

    def get_account(self) -> dict[str, Any]:
        return self.answer


@pytest.fixture(autouse=True)
def ses_quota(monkeypatch: pytest.MonkeyPatch) -> QuotaSes:
    ses = QuotaSes()
    monkeypatch.setattr(quota, "ses_client", lambda: ses)
    return ses
