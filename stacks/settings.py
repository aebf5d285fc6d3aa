"""The stack's settings, read from CDK context.

Every key has its default in ``cdk.json`` and nowhere else: a missing key is an error that
names it, never a silent second default. Values given on the command line
(``cdk deploy -c batch_size=300``) arrive as strings, so each reader also accepts the text form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_logs as logs
from constructs import Node

from stacks.shared_names import shared_names
from stacks.template_files import template_names

# SES tag names and values, and CloudWatch dimension values (DESIGN section 3).
_TAG_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# CloudFormation stack names.
_STACK_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
# SES identity ARNs, tenant names, multi-region endpoint ids and Region names.
_IDENTITY_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:ses:[a-z0-9-]+:\d{12}:identity/[^\s/*]{1,320}$"
)
_TENANT_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The function's own rule (bulk_sender.names.Pattern), so a value that passes synth passes at
# cold start too.
_ENDPOINT_ID_PATTERN = re.compile(shared_names().Pattern.ENDPOINT_ID)
_REGION_PATTERN = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
# SES configuration set names.
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Domains reserved for examples and tests (RFC 2606, RFC 6761): never a real sender.
_RESERVED_DOMAINS = ("example.com", "example.org", "example.net")
_RESERVED_TLDS = ("example", "test", "invalid", "localhost")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The retention periods CloudWatch Logs accepts, in days.
_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class SettingsError(ValueError):
    """A context key is missing or holds a value the stack cannot use."""


def _missing(key: str) -> SettingsError:
    return SettingsError(
        f"context key {key!r} is missing: cdk.json holds every key with its default; "
        "restore it there or pass it with -c"
    )


def _as_int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise SettingsError(f"context key {key!r} must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"context key {key!r} must be an integer") from None
    if isinstance(value, float) and value != number:
        raise SettingsError(f"context key {key!r} must be an integer")
    if not low <= number <= high:
        raise SettingsError(f"context key {key!r} must be between {low} and {high}")
    return number


def _as_float(key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise SettingsError(f"context key {key!r} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"context key {key!r} must be a number") from None
    if not low <= number <= high:
        raise SettingsError(f"context key {key!r} must be between {low} and {high}")
    return number


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise SettingsError(f"context key {key!r} must be true or false")


def _as_str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SettingsError(f"context key {key!r} must be a string")
    return value.strip()


def _as_str_list(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise SettingsError(f"context key {key!r} is not a valid JSON list") from None
        else:
            value = [part for part in text.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(f"context key {key!r} must be a list of strings")
    return tuple(item.strip() for item in value)


def _as_str_map(key: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError:
            raise SettingsError(f"context key {key!r} is not a valid JSON object") from None
    if not isinstance(value, dict) or not all(
        isinstance(name, str) and isinstance(item, str) for name, item in value.items()
    ):
        raise SettingsError(f"context key {key!r} must be an object of strings")
    return dict(value)


def is_reserved_domain(domain: str) -> bool:
    """Whether ``domain`` is, or is under, a domain reserved for examples and tests."""
    name = domain.strip().rstrip(".").lower()
    return name.rpartition(".")[2] in _RESERVED_TLDS or any(
        name == reserved or name.endswith(f".{reserved}") for reserved in _RESERVED_DOMAINS
    )


@dataclass(frozen=True)
class Settings:
    """Every documented context key, typed and checked."""

    stack_name: str
    sending_identities: tuple[str, ...]
    create_sending_identities: bool
    default_from: str
    default_template: str
    default_tags: dict[str, str]
    service_name: str
    metrics_namespace: str
    log_level: str
    log_retention_days: int
    function_timeout_seconds: int
    function_memory_mb: int
    batch_size: int
    max_batching_window_seconds: int
    max_concurrency: int
    max_calls_in_flight: int
    max_send_rate: float
    max_receive_count: int
    retry_backoff_base_seconds: int
    retry_backoff_max_seconds: int
    idempotency_ttl_seconds: int
    event_archive_retention_days: int
    status_ttl_days: int
    alarm_email: str
    oldest_message_age_alarm_seconds: int
    bounce_rate_alarm_threshold: float
    complaint_rate_alarm_threshold: float
    unsubscribe_rate_limit: int
    unsubscribe_burst_limit: int
    unsubscribe_post_limit_per_client: int
    unsubscribe_get_limit_per_client: int
    unsubscribe_secret_readers: tuple[str, ...]
    unsubscribe_mailto: str
    authorized_identity_arns: tuple[str, ...]
    tenants: tuple[str, ...]
    create_tenants: bool
    endpoint_id: str
    endpoint_secondary_region: str
    open_tracking: bool
    click_tracking: bool
    sandbox_recipients: tuple[str, ...]
    allowed_configuration_sets: tuple[str, ...]
    template_prefix: str
    # Days a scheduled campaign's file stays in the campaign bucket at most (the enqueue
    # function deletes it once enqueued; the lifecycle removes what is left, cancelled or not).
    campaign_file_retention_days: int

    @classmethod
    def from_node(cls, node: Node) -> Settings:
        """Read and check every key from the construct tree's context."""

        def get(key: str) -> Any:
            value = node.try_get_context(key)
            if value is None:
                raise _missing(key)
            return value

        settings = cls(
            stack_name=_as_str("stack_name", get("stack_name")),
            sending_identities=_as_str_list("sending_identities", get("sending_identities")),
            create_sending_identities=_as_bool(
                "create_sending_identities", get("create_sending_identities")
            ),
            default_from=_as_str("default_from", get("default_from")),
            default_template=_as_str("default_template", get("default_template")),
            default_tags=_as_str_map("default_tags", get("default_tags")),
            service_name=_as_str("service_name", get("service_name")),
            metrics_namespace=_as_str("metrics_namespace", get("metrics_namespace")),
            log_level=_as_str("log_level", get("log_level")).upper(),
            log_retention_days=_as_int("log_retention_days", get("log_retention_days"), 1, 3653),
            function_timeout_seconds=_as_int(
                # the handler starts no SES call with less than 15 s left (core.CALL_RESERVE_MS)
                "function_timeout_seconds",
                get("function_timeout_seconds"),
                30,
                900,
            ),
            function_memory_mb=_as_int("function_memory_mb", get("function_memory_mb"), 128, 10240),
            batch_size=_as_int("batch_size", get("batch_size"), 1, 10000),
            max_batching_window_seconds=_as_int(
                "max_batching_window_seconds", get("max_batching_window_seconds"), 0, 300
            ),
            max_concurrency=_as_int("max_concurrency", get("max_concurrency"), 2, 1000),
            max_calls_in_flight=_as_int("max_calls_in_flight", get("max_calls_in_flight"), 1, 64),
            max_send_rate=_as_float("max_send_rate", get("max_send_rate"), 0, 1_000_000),
            max_receive_count=_as_int("max_receive_count", get("max_receive_count"), 1, 1000),
            retry_backoff_base_seconds=_as_int(
                "retry_backoff_base_seconds", get("retry_backoff_base_seconds"), 0, 43200
            ),
            retry_backoff_max_seconds=_as_int(
                "retry_backoff_max_seconds", get("retry_backoff_max_seconds"), 0, 43200
            ),
            idempotency_ttl_seconds=_as_int(
                "idempotency_ttl_seconds", get("idempotency_ttl_seconds"), 60, 31_536_000
            ),
            event_archive_retention_days=_as_int(
                "event_archive_retention_days", get("event_archive_retention_days"), 1, 3653
            ),
            status_ttl_days=_as_int("status_ttl_days", get("status_ttl_days"), 1, 3650),
            alarm_email=_as_str("alarm_email", get("alarm_email")),
            oldest_message_age_alarm_seconds=_as_int(
                "oldest_message_age_alarm_seconds",
                get("oldest_message_age_alarm_seconds"),
                60,
                1_209_600,
            ),
            bounce_rate_alarm_threshold=_as_float(
                "bounce_rate_alarm_threshold", get("bounce_rate_alarm_threshold"), 0, 1
            ),
            complaint_rate_alarm_threshold=_as_float(
                "complaint_rate_alarm_threshold", get("complaint_rate_alarm_threshold"), 0, 1
            ),
            unsubscribe_rate_limit=_as_int(
                "unsubscribe_rate_limit", get("unsubscribe_rate_limit"), 1, 10_000
            ),
            unsubscribe_burst_limit=_as_int(
                "unsubscribe_burst_limit", get("unsubscribe_burst_limit"), 1, 5_000
            ),
            # AWS WAF rate-based rules: requests per client IP per 5 minutes (WAF's range).
            unsubscribe_post_limit_per_client=_as_int(
                "unsubscribe_post_limit_per_client",
                get("unsubscribe_post_limit_per_client"),
                10,
                2_000_000_000,
            ),
            unsubscribe_get_limit_per_client=_as_int(
                "unsubscribe_get_limit_per_client",
                get("unsubscribe_get_limit_per_client"),
                10,
                2_000_000_000,
            ),
            unsubscribe_secret_readers=_as_str_list(
                "unsubscribe_secret_readers", get("unsubscribe_secret_readers")
            ),
            unsubscribe_mailto=_as_str("unsubscribe_mailto", get("unsubscribe_mailto")),
            authorized_identity_arns=_as_str_list(
                "authorized_identity_arns", get("authorized_identity_arns")
            ),
            tenants=_as_str_list("tenants", get("tenants")),
            create_tenants=_as_bool("create_tenants", get("create_tenants")),
            endpoint_id=_as_str("endpoint_id", get("endpoint_id")),
            endpoint_secondary_region=_as_str(
                "endpoint_secondary_region", get("endpoint_secondary_region")
            ),
            open_tracking=_as_bool("open_tracking", get("open_tracking")),
            click_tracking=_as_bool("click_tracking", get("click_tracking")),
            sandbox_recipients=_as_str_list("sandbox_recipients", get("sandbox_recipients")),
            allowed_configuration_sets=_as_str_list(
                "allowed_configuration_sets", get("allowed_configuration_sets")
            ),
            template_prefix=_as_str("template_prefix", get("template_prefix")),
            campaign_file_retention_days=_as_int(
                "campaign_file_retention_days", get("campaign_file_retention_days"), 1, 3650
            ),
        )
        settings._check()
        return settings

    def _check(self) -> None:
        """Checks that span several keys or need more than a type."""
        if not _STACK_NAME_PATTERN.match(self.stack_name):
            raise SettingsError("context key 'stack_name' is not a valid CloudFormation name")
        if not self.sending_identities:
            raise SettingsError("context key 'sending_identities' must name at least one")
        for key in ("sending_identities", "sandbox_recipients"):
            for identity in getattr(self, key):
                if not identity or any(char.isspace() for char in identity) or "*" in identity:
                    raise SettingsError(
                        f"context key {key!r} holds an entry that is not a domain or an address"
                    )
        for key in ("sending_identities", "sandbox_recipients"):
            names = [identity.lower() for identity in getattr(self, key)]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise SettingsError(f"context key {key!r} names {repeated[0]} twice")
        for name in self.allowed_configuration_sets:
            if not _NAME_PATTERN.match(name):
                raise SettingsError(
                    "context key 'allowed_configuration_sets' holds a name that is not "
                    "1 to 64 of A-Z a-z 0-9 _ -"
                )
        if not template_names().PREFIX_PATTERN.fullmatch(self.template_prefix):
            raise SettingsError("context key 'template_prefix' must be 0 to 63 of A-Z a-z 0-9 _ -")
        for name, value in self.default_tags.items():
            if not (_TAG_PATTERN.match(name) and _TAG_PATTERN.match(value)):
                raise SettingsError(
                    "context key 'default_tags' holds a tag whose name or value is not "
                    "1 to 256 of A-Z a-z 0-9 _ -"
                )
        if not self.service_name or not self.metrics_namespace:
            raise SettingsError(
                "context keys 'service_name' and 'metrics_namespace' must not be empty"
            )
        if self.log_level not in _LOG_LEVELS:
            raise SettingsError(f"context key 'log_level' must be one of {', '.join(_LOG_LEVELS)}")
        for key in ("log_retention_days", "event_archive_retention_days"):
            if getattr(self, key) not in _RETENTION:
                raise SettingsError(
                    f"context key {key!r} must be a CloudWatch Logs retention period "
                    f"({', '.join(str(days) for days in _RETENTION)})"
                )
        if self.batch_size > 10 and self.max_batching_window_seconds < 1:
            raise SettingsError(
                "context key 'max_batching_window_seconds' must be at least 1 when "
                "'batch_size' is above 10 (an SQS event source mapping rule)"
            )
        if self.retry_backoff_max_seconds < self.retry_backoff_base_seconds:
            raise SettingsError(
                "context key 'retry_backoff_max_seconds' must not be below "
                "'retry_backoff_base_seconds'"
            )
        self._check_send_options()
        if self.alarm_email and (self.alarm_email.count("@") != 1 or " " in self.alarm_email):
            raise SettingsError("context key 'alarm_email' must be empty or one address")
        mailto = self.unsubscribe_mailto
        if mailto and (not mailto.startswith("mailto:") or not mailto.isascii() or " " in mailto):
            raise SettingsError("context key 'unsubscribe_mailto' must be empty or a mailto: URI")

    def _check_send_options(self) -> None:
        """Sending authorization, tenants and the multi-region endpoint (DESIGN section 11)."""
        for arn in self.authorized_identity_arns:
            if not _IDENTITY_ARN_PATTERN.match(arn):
                raise SettingsError(
                    "context key 'authorized_identity_arns' holds an entry that is not an SES "
                    "identity ARN (arn:aws:ses:REGION:ACCOUNT:identity/NAME)"
                )
        for tenant in self.tenants:
            if not _TENANT_PATTERN.match(tenant):
                raise SettingsError(
                    "context key 'tenants' holds a name that is not 1 to 64 of A-Z a-z 0-9 _ -"
                )
        if self.endpoint_id and not _ENDPOINT_ID_PATTERN.fullmatch(self.endpoint_id):
            raise SettingsError("context key 'endpoint_id' is not a multi-region endpoint id")
        region = self.endpoint_secondary_region
        if region and not _REGION_PATTERN.match(region):
            raise SettingsError("context key 'endpoint_secondary_region' is not a Region name")

    @property
    def create_endpoint(self) -> bool:
        """A multi-region endpoint is created when a second Region is given and no id."""
        return bool(self.endpoint_secondary_region) and not self.endpoint_id

    @property
    def placeholder_identities(self) -> tuple[str, ...]:
        """The sending identities on a reserved example domain: placeholders, not senders."""
        return tuple(
            identity
            for identity in self.sending_identities
            if is_reserved_domain(identity.rpartition("@")[2])
        )

    def check_placeholders(self, *, deploying: bool) -> str | None:
        """A warning when a sending identity is a placeholder; when deploying, an error."""
        if not self.placeholder_identities:
            return None
        message = (
            "context key 'sending_identities' holds the placeholder "
            f"{', '.join(self.placeholder_identities)}: put your sending domain or address there "
            "in cdk.json, or pass -c sending_identities=mail.yourdomain.com"
        )
        if deploying:
            raise SettingsError(message)
        return f"{message} (make deploy refuses it)"

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION[self.log_retention_days]

    @property
    def event_archive_retention(self) -> logs.RetentionDays:
        return _RETENTION[self.event_archive_retention_days]

    @property
    def status_ttl_seconds(self) -> int:
        return self.status_ttl_days * 24 * 3600

    @property
    def queue_visibility_timeout_seconds(self) -> int:
        """Six times the function timeout plus the batching window (Lambda's SQS guidance)."""
        return 6 * self.function_timeout_seconds + self.max_batching_window_seconds
