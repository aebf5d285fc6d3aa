"""What each context key and environment variable means: the text of the configuration page.

A key's default lives in cdk.json and its type and rules in stacks/settings.py; a variable's
name lives in lambda_src/bulk_sender/names.py. This is the one place their meaning is written:
`make docs-gen` builds docs/reference/configuration.md from the four, and refuses a key or a
variable that has no line here. No imports: the docs generator reads it without the CDK.
"""

from __future__ import annotations

CONTEXT: dict[str, str] = {
    "stack_name": (
        "CloudFormation stack name; the CLI's `--stack` takes it. Change it to deploy a second, "
        "separate sender."
    ),
    "sending_identities": (
        "Domains and/or addresses the function may send from: `ses:SendBulkEmail` is allowed on "
        "these identities only. **Replace the placeholder.** On the command line: a JSON list "
        "or `a.com,b@c.org`."
    ),
    "create_sending_identities": (
        "Create the identities in SES (a domain with Easy DKIM, an address by verification "
        "email). `false` when they already exist in the account."
    ),
    "default_from": (
        "`DEFAULT_FROM`: sender of messages without `from`. Empty: every message names its sender."
    ),
    "default_template": (
        "`DEFAULT_TEMPLATE`: template of messages without `template` or `content`. Empty: none."
    ),
    "default_tags": (
        "`DEFAULT_TAGS`: tags put on every email (a message's own tags win). E.g. "
        '`{"campaign":"newsletter"}`.'
    ),
    "service_name": (
        "`POWERTOOLS_SERVICE_NAME`: the `service` dimension of the handler's metrics and the "
        "logs' service."
    ),
    "metrics_namespace": (
        "`POWERTOOLS_METRICS_NAMESPACE`: CloudWatch namespace of the handler's metrics."
    ),
    "log_level": ("`POWERTOOLS_LOG_LEVEL`: DEBUG, INFO, WARNING, ERROR or CRITICAL."),
    "log_retention_days": (
        "Retention of the function's log group (a CloudWatch Logs period: 1, 3, 5, 7, 14, 30, "
        "60, 90, ...)."
    ),
    "function_timeout_seconds": (
        "Function timeout, 30 to 900 (no SES call starts unless it and the work after it fit: "
        "its 12 s of timeouts, an SQS call per ten records not yet sent for the DLQ writes and "
        "visibility changes, and a margin; each of those SQS calls starts only if it can end "
        "before the deadline). The queue's visibility timeout is 6 x this + the batching "
        "window."
    ),
    "function_memory_mb": ("Function memory (and CPU)."),
    "batch_size": ("Records per invocation (see *Sizing*)."),
    "max_batching_window_seconds": (
        "How long the poller waits to fill a batch (at least 1 when `batch_size` > 10)."
    ),
    "max_concurrency": (
        "Maximum concurrent invocations the SQS event source starts (2 to 1000); also the "
        "handler's `MAX_CONCURRENCY`, which splits the send rate between them."
    ),
    "max_calls_in_flight": (
        "`MAX_CALLS_IN_FLIGHT`: concurrent SendBulkEmail calls per invocation."
    ),
    "max_send_rate": (
        "`MAX_SEND_RATE`: recipients per second per invocation; `0` = SES `GetAccount` "
        "MaxSendRate x 0.9 / `max_concurrency`."
    ),
    "max_receive_count": ("Receives before SQS moves a message to the DLQ (the redrive policy)."),
    "retry_backoff_base_seconds": (
        "`RETRY_BACKOFF_BASE_SECONDS`: first delay of a retried message; `0` turns the backoff off."
    ),
    "retry_backoff_max_seconds": (
        "`RETRY_BACKOFF_MAX_SECONDS`: longest retry delay (also the delay, at most 900, of the "
        "copies held while sending is paused)."
    ),
    "idempotency_ttl_seconds": (
        "`IDEMPOTENCY_TTL_SECONDS`: how long a sent message `id` is remembered (not sent again)."
    ),
    "event_archive_retention_days": (
        "Retention of the SES event archive log group (addresses masked)."
    ),
    "status_ttl_days": (
        "Days each email's outcome and each campaign's counts stay in the campaign status table "
        "(`python -m bulkmail status`)."
    ),
    "alarm_email": (
        "Address subscribed to the `Alarms` topic (confirm the email SNS sends). Empty: no "
        "subscription."
    ),
    "oldest_message_age_alarm_seconds": (
        "The *Oldest message too old* alarm fires above this age."
    ),
    "bounce_rate_alarm_threshold": (
        "The *Bounce rate* alarm level: 0.025 = 2.5 %, half of SES's 5 % review level."
    ),
    "complaint_rate_alarm_threshold": (
        "The *Complaint rate* alarm level: 0.0005 = 0.05 %, half of SES's 0.1 % review level."
    ),
    "unsubscribe_rate_limit": (
        "Requests per second the unsubscribe endpoint's API stage lets through (steady rate, "
        "from all clients together); more are answered 429 before reaching the function. Sized "
        "for link scanners' GETs at your send rate."
    ),
    "unsubscribe_post_limit_per_client": (
        "AWS WAF: one-click POSTs one client IP may make per 5 minutes; more are answered 403 "
        "(see [Unsubscribes](../security/unsubscribe.md))."
    ),
    "unsubscribe_get_limit_per_client": (
        "AWS WAF: GETs and HEADs (confirm pages, link scanners) one client IP may make per "
        "5 minutes, counted apart from POSTs."
    ),
    "unsubscribe_secret_readers": (
        "IAM principal ARNs (wildcards allowed, e.g. `arn:aws:iam::123456789012:role/Ops*`) who "
        "may read and rotate the unsubscribe secret besides the two functions: when set, the "
        "secret's resource policy denies everyone else. Empty: whoever IAM and the stack's KMS "
        "key allow."
    ),
    "unsubscribe_burst_limit": (
        "The endpoint stage's burst: requests allowed at once above the steady rate."
    ),
    "unsubscribe_mailto": (
        "`UNSUBSCRIBE_MAILTO`: a `mailto:` URI added after the HTTPS link in `List-Unsubscribe` "
        "(e.g. `mailto:unsubscribe@example.com`). Empty: the HTTPS link only."
    ),
    "authorized_identity_arns": (
        "Identities of other accounts the function may send from (sending authorization, "
        "messages' `from_arn`): `ses:SendBulkEmail` is allowed on exactly these ARNs."
    ),
    "tenants": (
        "SES tenants messages may name (`tenant`, the function's `ALLOWED_TENANTS`): each has "
        "its own reputation and automatic pause. Empty: no message may name one."
    ),
    "create_tenants": (
        "Create the `tenants` (AWS::SES::Tenant) with the sending identities, the configuration "
        "sets (the stack's and `allowed_configuration_sets`) and the templates associated. "
        "`false` when they exist (associate their resources yourself)."
    ),
    "endpoint_id": (
        "An existing multi-region (global) endpoint's id: the function sends through it "
        "(`ENDPOINT_ID`, signed with SigV4a)."
    ),
    "endpoint_secondary_region": (
        "The endpoint's second Region. Without `endpoint_id` the stack creates the endpoint "
        "(this Region and that one). The function may then also send from the identities, "
        "configuration set and templates there: deploy them in that Region too (same identity "
        "and template names; the configuration set must have this stack's configuration set "
        "name there)."
    ),
    "open_tracking": (
        "The configuration set tracks opens (its event destinations take `open` events). "
        "`false`: no open tracking, unless a message's `tracking` asks for it."
    ),
    "click_tracking": ("The same for clicks (SES rewrites links only when on)."),
    "sandbox_recipients": (
        "In the SES sandbox only: the verified identities (addresses or domains) you send test "
        "mail to. The sandbox also authorizes `SendBulkEmail` against each recipient's "
        "identity, so their ARNs join the sending grant. Empty once out of the sandbox."
    ),
    "allowed_configuration_sets": (
        "`ALLOWED_CONFIGURATION_SETS`: configuration sets a message may name in "
        "`configuration_set` besides the stack's own (always allowed); the role may use exactly "
        "these. A message naming another is dead-lettered as `InvalidMessage` before any call."
    ),
    "template_prefix": (
        "`TEMPLATE_PREFIX`: put before every SES template name (`shop-` deploys "
        "`templates/welcome.json` as `shop-welcome`), so two stacks in one account and Region "
        "do not collide. Messages still name `welcome`; the sender, the local run and the CLI "
        "add the prefix (an ARN is used as it is)."
    ),
    "campaign_file_retention_days": (
        "Days a scheduled campaign's file (`enqueue --at`) may stay in the campaign bucket: the "
        "enqueue function deletes it once enqueued; the lifecycle deletes what is left "
        "(cancelled or failed)."
    ),
}

# The functions' environment: the stack sets each variable from the context key named, and the
# function reads it once at cold start (lambda_src/bulk_sender/settings.py and its peers). The
# local run sets the same variables. Sender = the SQS sender (handler.py); events = the SES
# events function (events.py); unsubscribe = the endpoint (unsubscribe.py); probe = the pause
# probe (probe_handler.py).
ENVIRONMENT: dict[str, str] = {
    "DLQ_URL": "Sender. The dead-letter queue's URL; required: permanent failures go there.",
    "QUEUE_URL": (
        "Sender. The send queue's URL: where the copies held during a pause are put back."
    ),
    "CONFIGURATION_SET_NAME": (
        "Sender, probe. The stack's configuration set: the default of every message, and the "
        "set the probe asks SES about."
    ),
    "ALLOWED_CONFIGURATION_SETS": (
        "Sender. From `allowed_configuration_sets`, comma-separated, plus the stack's own set. "
        "Unset: a message may name any set."
    ),
    "ALLOWED_TENANTS": "Sender. From `tenants`, comma-separated. Empty: no message may name one.",
    "DEFAULT_FROM": "Sender. From `default_from`; set only when not empty.",
    "DEFAULT_TEMPLATE": "Sender. From `default_template`; set only when not empty.",
    "DEFAULT_TAGS": "Sender. From `default_tags`, as a JSON object.",
    "TEMPLATE_PREFIX": "Sender. From `template_prefix`; set only when not empty.",
    "IDEMPOTENCY_TABLE": (
        "Sender. The idempotency ledger's table. Unset (outside the stack): no ledger, and "
        "a pause holds records without stopping the mapping."
    ),
    "IDEMPOTENCY_TTL_SECONDS": "Sender. From `idempotency_ttl_seconds` (default 604800).",
    "STATUS_TABLE": "Sender, events. The campaign status table. Unset: no status is written.",
    "STATUS_TTL_SECONDS": "Sender, events. `status_ttl_days` in seconds (default 7776000).",
    "MAX_RECEIVE_COUNT": (
        "Sender. From `max_receive_count`, the queue's redrive threshold: a retry at the last "
        "receive is recorded as `RetriesExhausted`. 0: unknown."
    ),
    "MAX_SEND_RATE": "Sender. From `max_send_rate`; 0: from SES `GetAccount`.",
    "MAX_CONCURRENCY": (
        "Sender. From `max_concurrency`, the event source's maximum concurrency: the send "
        "rate is split between that many invocations (default 1)."
    ),
    "MAX_CALLS_IN_FLIGHT": "Sender. From `max_calls_in_flight` (default 4).",
    "RETRY_BACKOFF_BASE_SECONDS": "Sender. From `retry_backoff_base_seconds` (default 30).",
    "RETRY_BACKOFF_MAX_SECONDS": "Sender. From `retry_backoff_max_seconds` (default 900).",
    "ATTACHMENT_BUCKET": "Sender. The attachment bucket (output `AttachmentBucketName`).",
    "ENDPOINT_ID": (
        "Sender. From `endpoint_id`, or the endpoint the stack creates: calls go through "
        "that multi-region endpoint (SigV4a)."
    ),
    "UNSUBSCRIBE_URL": (
        "Sender. The unsubscribe endpoint (output `UnsubscribeUrl`): https, or http on "
        "127.0.0.1 locally, without a query. Set: every entry gets signed links."
    ),
    "UNSUBSCRIBE_MAILTO": "Sender. From `unsubscribe_mailto`; a `mailto:` URI.",
    "UNSUBSCRIBE_SECRET_ARN": (
        "Sender, unsubscribe. The secret that signs the links and keys the recipient hashes; "
        "required with `UNSUBSCRIBE_URL` or `SUPPRESSION_TABLE`."
    ),
    "SUPPRESSION_TABLE": (
        "Sender, unsubscribe. The suppression table: read before every send, written by the "
        "endpoint."
    ),
    "CAMPAIGN_BUCKET": (
        "Enqueue. The campaign bucket (output `CampaignBucketName`) the scheduled campaigns' "
        "files wait in."
    ),
    "PAUSE_TABLE": "Probe. The table that holds the pause marker (the idempotency table).",
    "MAPPING_UUID": "Probe. The sender's event source mapping, restarted after a pause.",
    "POWERTOOLS_SERVICE_NAME": "Every function. From `service_name`.",
    "POWERTOOLS_METRICS_NAMESPACE": "Sender, events, probe. From `metrics_namespace`.",
    "POWERTOOLS_LOG_LEVEL": "Every function. From `log_level`.",
}
