"""The handler's settings, read once from the environment (DESIGN.md section 6)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bulk_sender.message import InvalidMessage, validate_tags
from bulk_sender.names import Env, Pattern
from bulk_sender.template_names import PREFIX_PATTERN


class SettingsError(ValueError):
    """An environment variable holds a value the sender cannot use."""


@dataclass(frozen=True)
class Settings:
    dlq_url: str
    queue_url: str | None = None
    configuration_set: str | None = None
    default_from: str | None = None
    default_template: str | None = None
    default_tags: Mapping[str, str] = field(default_factory=dict)
    idempotency_table: str | None = None
    idempotency_ttl_seconds: int = 7 * 24 * 3600
    max_send_rate: float = 0.0
    max_concurrency: int = 1
    max_calls_in_flight: int = 4
    retry_backoff_base_seconds: int = 30
    retry_backoff_max_seconds: int = 900
    status_table: str | None = None
    status_ttl_seconds: int = 90 * 24 * 3600
    max_receive_count: int = 0  # the queue's; 0: unknown (retries exhausted go unrecorded)
    # Unsubscribes (bulk_sender/unsubscribe.py): the endpoint, an optional mailto, the
    # secret the links are signed with, the suppression table.
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None
    unsubscribe_secret_arn: str | None = None
    suppression_table: str | None = None
    endpoint_id: str | None = None
    allowed_tenants: frozenset[str] = frozenset()
    attachment_bucket: str | None = None
    function_memory_mb: int = 0  # Lambda's AWS_LAMBDA_FUNCTION_MEMORY_SIZE; 0: unknown
    # None: a message may name any set (no ALLOWED_CONFIGURATION_SETS given).
    allowed_configuration_sets: frozenset[str] | None = None
    template_prefix: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def number(name: str, default: float, kind: type = int) -> float:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number") from None
            if value < 0:
                raise SettingsError(f"{name} must not be negative")
            return value

        dlq_url = text(Env.DLQ_URL)
        if dlq_url is None:
            raise SettingsError("DLQ_URL is required: permanent failures have nowhere to go")
        configuration_set = text(Env.CONFIGURATION_SET_NAME)
        return cls(
            dlq_url=dlq_url,
            queue_url=text(Env.QUEUE_URL),
            configuration_set=configuration_set,
            allowed_configuration_sets=parse_configuration_sets(
                text(Env.ALLOWED_CONFIGURATION_SETS), configuration_set
            ),
            template_prefix=_template_prefix(text(Env.TEMPLATE_PREFIX)),
            default_from=text(Env.DEFAULT_FROM),
            default_template=text(Env.DEFAULT_TEMPLATE),
            default_tags=_tags_from_json(text(Env.DEFAULT_TAGS)),
            idempotency_table=text(Env.IDEMPOTENCY_TABLE),
            idempotency_ttl_seconds=int(number(Env.IDEMPOTENCY_TTL_SECONDS, 7 * 24 * 3600)),
            max_send_rate=float(number(Env.MAX_SEND_RATE, 0.0, float)),
            max_concurrency=max(1, int(number(Env.MAX_CONCURRENCY, 1))),
            max_calls_in_flight=max(1, int(number(Env.MAX_CALLS_IN_FLIGHT, 4))),
            retry_backoff_base_seconds=int(number(Env.RETRY_BACKOFF_BASE_SECONDS, 30)),
            retry_backoff_max_seconds=int(number(Env.RETRY_BACKOFF_MAX_SECONDS, 900)),
            status_table=text(Env.STATUS_TABLE),
            status_ttl_seconds=int(number(Env.STATUS_TTL_SECONDS, 90 * 24 * 3600)),
            max_receive_count=int(number(Env.MAX_RECEIVE_COUNT, 0)),
            **unsubscribe_settings(text),
            endpoint_id=_endpoint_id(text(Env.ENDPOINT_ID)),
            allowed_tenants=frozenset(
                filter(None, map(str.strip, env.get(Env.ALLOWED_TENANTS, "").split(",")))
            ),
            attachment_bucket=text(Env.ATTACHMENT_BUCKET),
            function_memory_mb=int(number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0)),
        )


# A multi-region endpoint id: the rule the stack also applies to the context key endpoint_id.
_ENDPOINT_ID = re.compile(Pattern.ENDPOINT_ID)


def _endpoint_id(raw: str | None) -> str | None:
    if raw is not None and not _ENDPOINT_ID.fullmatch(raw):
        raise SettingsError("ENDPOINT_ID must be a multi-region endpoint id (DNS labels)")
    return raw


def parse_configuration_sets(raw: str | None, default: str | None) -> frozenset[str] | None:
    """A comma-separated list; the default set (CONFIGURATION_SET_NAME) is always allowed."""
    if raw is None:
        return None
    names = {name.strip() for name in raw.split(",") if name.strip()}
    return frozenset(names | ({default} if default else set()))


def _template_prefix(raw: str | None) -> str:
    if raw is None:
        return ""
    if not PREFIX_PATTERN.fullmatch(raw):
        raise SettingsError("TEMPLATE_PREFIX must be 0 to 63 of A-Z a-z 0-9 _ -")
    return raw


def _tags_from_json(raw: str | None) -> dict[str, str]:
    if raw is None:
        return {}
    try:
        tags = json.loads(raw)
    except ValueError:
        raise SettingsError("DEFAULT_TAGS must be a JSON object") from None
    try:
        return validate_tags(tags)
    except InvalidMessage as error:
        raise SettingsError(f"DEFAULT_TAGS: {error.rule}") from None


def unsubscribe_settings(text: Callable[[str], str | None]) -> dict[str, str | None]:
    """UNSUBSCRIBE_URL (https, or http on this machine), UNSUBSCRIBE_MAILTO, the secret's ARN
    and SUPPRESSION_TABLE; links and suppression need the secret."""
    url, mailto = text(Env.UNSUBSCRIBE_URL), text(Env.UNSUBSCRIBE_MAILTO)
    secret, table = text(Env.UNSUBSCRIBE_SECRET_ARN), text(Env.SUPPRESSION_TABLE)
    if url is not None:
        parts = urlsplit(url)
        local = parts.hostname in ("127.0.0.1", "localhost") and parts.scheme == "http"
        if not (parts.scheme == "https" or local) or not parts.netloc or parts.query:
            raise SettingsError("UNSUBSCRIBE_URL must be an https:// URL without a query")
    if mailto is not None and not mailto.startswith("mailto:"):
        raise SettingsError("UNSUBSCRIBE_MAILTO must be a mailto: URI")
    if (url or table) and secret is None:
        raise SettingsError("UNSUBSCRIBE_URL and SUPPRESSION_TABLE need UNSUBSCRIBE_SECRET_ARN")
    return {
        "unsubscribe_url": url,
        "unsubscribe_mailto": mailto,
        "unsubscribe_secret_arn": secret,
        "suppression_table": table,
    }
