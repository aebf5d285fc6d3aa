"""Shared by the CLI tests: `enqueue` reads the SES quota before sending (bulkmail/quota.py),
and with --stack or --local checks each sender is a verified identity (bulkmail/identity.py).

Unless a test says otherwise, SES answers a quota no campaign here exceeds: the tests that
are not about the quota see no question and no warning, whichever SES moto serves.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bulkmail import quota


class QuotaSes:
    """SES v2's GetAccount, answering a given quota, and GetEmailIdentity: every identity
    verified, unless `verified` names the only ones."""

    meta = SimpleNamespace(region_name="eu-west-1")

    def __init__(
        self, max_24h: float = 1e9, sent: float = 0, rate: float = 14, enabled: bool = True
    ) -> None:
        self.answer = {
            "SendingEnabled": enabled,
            "SendQuota": {"Max24HourSend": max_24h, "SentLast24Hours": sent, "MaxSendRate": rate},
        }
        self.verified: set[str] | None = None
        self.identities_asked: list[str] = []

    def get_account(self) -> dict[str, Any]:
        return self.answer

    def get_email_identity(self, EmailIdentity: str) -> dict[str, Any]:
        self.identities_asked.append(EmailIdentity)
        if self.verified is not None and EmailIdentity not in self.verified:
            error = {"Error": {"Code": "NotFoundException", "Message": "not found"}}
            raise ClientError(error, "GetEmailIdentity")
        return {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": True}


@pytest.fixture(autouse=True)
def ses_quota(monkeypatch: pytest.MonkeyPatch) -> QuotaSes:
    ses = QuotaSes()
    monkeypatch.setattr(quota, "ses_client", lambda: ses)
    return ses
