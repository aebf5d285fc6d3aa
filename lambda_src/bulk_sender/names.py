"""Names the stack, the functions, the CLI and the local run share (DESIGN.md section 12).

One module, no imports: the CDK app, the Lambda asset and the CLI all load it. A name that
more than one tier uses is written here once; each tier reads it from here.
"""

from __future__ import annotations


class Env:
    """Environment variables the stack sets and the functions read."""

    DLQ_URL = "DLQ_URL"
    QUEUE_URL = "QUEUE_URL"
    CONFIGURATION_SET_NAME = "CONFIGURATION_SET_NAME"
    ALLOWED_CONFIGURATION_SETS = "ALLOWED_CONFIGURATION_SETS"
    ALLOWED_TENANTS = "ALLOWED_TENANTS"
    DEFAULT_FROM = "DEFAULT_FROM"
    DEFAULT_TEMPLATE = "DEFAULT_TEMPLATE"
    DEFAULT_TAGS = "DEFAULT_TAGS"
    TEMPLATE_PREFIX = "TEMPLATE_PREFIX"
    IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
    IDEMPOTENCY_TTL_SECONDS = "IDEMPOTENCY_TTL_SECONDS"
    STATUS_TABLE = "STATUS_TABLE"
    STATUS_TTL_SECONDS = "STATUS_TTL_SECONDS"
    MAX_RECEIVE_COUNT = "MAX_RECEIVE_COUNT"
    MAX_SEND_RATE = "MAX_SEND_RATE"
    MAX_CONCURRENCY = "MAX_CONCURRENCY"
    MAX_CALLS_IN_FLIGHT = "MAX_CALLS_IN_FLIGHT"
    RETRY_BACKOFF_BASE_SECONDS = "RETRY_BACKOFF_BASE_SECONDS"
    RETRY_BACKOFF_MAX_SECONDS = "RETRY_BACKOFF_MAX_SECONDS"
    ATTACHMENT_BUCKET = "ATTACHMENT_BUCKET"
    ENDPOINT_ID = "ENDPOINT_ID"
    UNSUBSCRIBE_URL = "UNSUBSCRIBE_URL"
    UNSUBSCRIBE_MAILTO = "UNSUBSCRIBE_MAILTO"
    UNSUBSCRIBE_SECRET_ARN = "UNSUBSCRIBE_SECRET_ARN"
    SUPPRESSION_TABLE = "SUPPRESSION_TABLE"
    PAUSE_TABLE = "PAUSE_TABLE"
    CAMPAIGN_BUCKET = "CAMPAIGN_BUCKET"
    MAPPING_UUID = "MAPPING_UUID"
    POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
    POWERTOOLS_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"


class Output:
    """The stack's outputs: read by the CLI's --stack and emulated by the local run."""

    QUEUE_URL = "QueueUrl"
    QUEUE_ARN = "QueueArn"
    DLQ_URL = "DlqUrl"
    DLQ_ARN = "DlqArn"
    CONFIGURATION_SET_NAME = "ConfigurationSetName"
    EVENTS_TOPIC_ARN = "EventsTopicArn"
    ALARMS_TOPIC_ARN = "AlarmsTopicArn"
    DASHBOARD_URL = "DashboardUrl"
    IDEMPOTENCY_TABLE_NAME = "IdempotencyTableName"
    STATUS_TABLE_NAME = "StatusTableName"
    UNSUBSCRIBE_URL = "UnsubscribeUrl"
    SUPPRESSION_TABLE_NAME = "SuppressionTableName"
    UNSUBSCRIBE_SECRET_ARN = "UnsubscribeSecretArn"
    ATTACHMENT_BUCKET_NAME = "AttachmentBucketName"
    CAMPAIGN_BUCKET_NAME = "CampaignBucketName"
    SCHEDULE_GROUP_NAME = "ScheduleGroupName"
    # What `enqueue --at` names in each schedule it creates: the target and the role.
    ENQUEUE_FUNCTION_ARN = "EnqueueFunctionArn"
    SCHEDULER_ROLE_ARN = "SchedulerRoleArn"


class Scheduled:
    """Scheduled campaigns on the status table's counts item (pk campaign, sk `#counts`)."""

    # Rows scheduled and not yet on the queue: + at `enqueue --at`, - per chunk enqueued
    # and per row cancelled.
    SCHEDULED = "scheduled"
    # String sets: `{instant}={rows}` per schedule created, `{instant}/{chunk}` per chunk
    # enqueued (each counted once: its ADD is conditioned on it not being there), and the
    # instants cancelled.
    PLAN = "schedule_plan"
    CHUNKS = "enqueue_chunks"
    CANCELLED = "schedule_cancelled"
    # Log events of the enqueue function.
    EVENT_CHUNK = "campaign_chunk_enqueued"
    EVENT_DONE = "campaign_enqueued"
    EVENT_CONTINUE = "campaign_enqueue_continues"


class Pattern:
    """Rules both the stack (on context, at synth) and the functions (on their environment, at
    cold start) apply: one regular expression each, matched whole (``re.fullmatch``), so a value
    the stack accepts is one the function accepts."""

    # A multi-region endpoint id: DNS labels (botocore's endpoint rules check isValidHostLabel;
    # a bad id would fail every call after its messages were claimed).
    ENDPOINT_ID = (
        r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    )


class Unsubscribe:
    """The one-click link: its query parameter and the shape of its token
    (bulk_sender.recipient_hash), which the stack's firewall checks before the function runs."""

    TOKEN_PARAMETER = "t"
    # The suppression table's attribute holding the key version of an item's hash.
    VERSION_ATTRIBUTE = "v"
    # How long a function keeps the secret's keys before reading them again (a rotation
    # reaches every function within it); `secret rotate` waits twice it between rotations.
    KEY_CACHE_SECONDS = 300
    # [key version.]list.recipient hash.MAC; recipient_hash.parse reads the same shape.
    TOKEN_PATTERN = r"^([1-9][0-9]{0,5}\.)?[A-Za-z0-9_-]{1,64}\.[0-9a-f]{32}\.[0-9a-f]{32}$"


class Cli:
    """Environment variables the command-line tool reads."""

    # Where enqueue keeps this machine's id key when no --id-key or stack gives one.
    ID_KEY_FILE = "BULKMAIL_ID_KEY_FILE"


class Table:
    """Key and attribute names of the stack's DynamoDB tables: the stack creates the tables,
    the functions, the CLI and the local run read and write their items."""

    LEDGER_KEY = "id"  # the idempotency ledger's partition key (a message id, or a dead letter's)
    STATUS_PARTITION_KEY = "pk"  # the campaign status table's: the campaign
    STATUS_SORT_KEY = "sk"  # `#counts`, or an email's key
    SUPPRESSION_HASH_KEY = "h"  # the suppression list's: a keyed recipient hash
    SUPPRESSION_LIST_KEY = "list"
    TTL_ATTRIBUTE = "expires_at"  # every table's expiry (epoch seconds)


class LogEvent:
    """Log events the dashboard's queries read (stacks/monitoring.py): the functions log them
    under these names."""

    SENDING_PAUSED = "sending_paused"
    SENDING_RESUMED = "sending_resumed"
    PAUSE_MARKER_UNACTIONABLE = "pause_marker_unactionable"
    DEAD_LETTERED = "dead_lettered"  # one per message the sender writes to the DLQ
    CAMPAIGN_COUNTS = "campaign_counts"  # one per campaign per batch: its counts added
