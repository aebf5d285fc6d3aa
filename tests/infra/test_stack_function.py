"""The sender function, its log group, environment and SQS event source mapping."""

import json

from tests.infra.cfn import arn_of, ref

# Lambda's synchronous invocation payload limit, and the envelope each SQS record carries
# besides its body (message id, receipt handle, attributes, ARNs: about 0.8 KB).
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
RECORD_ENVELOPE_BYTES = 800
# The average body the default batch is sized for (README: "Batch size").
AVERAGE_BODY_BYTES = 30_000

ENVIRONMENT = {
    "DLQ_URL",
    "QUEUE_URL",
    "CONFIGURATION_SET_NAME",
    "ALLOWED_CONFIGURATION_SETS",
    "DEFAULT_TAGS",
    "IDEMPOTENCY_TABLE",
    "IDEMPOTENCY_TTL_SECONDS",
    "STATUS_TABLE",
    "STATUS_TTL_SECONDS",
    "MAX_RECEIVE_COUNT",
    "MAX_SEND_RATE",
    "MAX_CONCURRENCY",
    "MAX_CALLS_IN_FLIGHT",
    "RETRY_BACKOFF_BASE_SECONDS",
    "RETRY_BACKOFF_MAX_SECONDS",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "UNSUBSCRIBE_URL",
    "UNSUBSCRIBE_SECRET_ARN",
    "SUPPRESSION_TABLE",
    "ATTACHMENT_BUCKET",
}


def _function(synth):
    return synth.one("AWS::Lambda::Function", "Sender")


def test_the_function_runs_the_handler_on_python_3_14_arm64(synth, context):
    # Given the function
    _, function = _function(synth)
    properties = function["Properties"]
    # Then it runs handler.lambda_handler on the newest Python runtime, on Graviton
    assert properties["Runtime"] == "python3.14"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == "handler.lambda_handler"
    assert properties["Timeout"] == context["function_timeout_seconds"]
    assert properties["MemorySize"] == context["function_memory_mb"]


def test_the_function_logs_to_its_own_log_group_with_a_retention(synth, context):
    # Given the function and its log group
    _, function = _function(synth)
    log_group_id = synth.logical_id("AWS::Logs::LogGroup", "SenderLogGroup")
    # When the function's logging configuration is read
    logging = function["Properties"]["LoggingConfig"]
    # Then it writes to that group, which keeps logs for the context's retention
    assert logging["LogGroup"] == ref(log_group_id)
    retention = synth.template["Resources"][log_group_id]["Properties"]["RetentionInDays"]
    assert retention == context["log_retention_days"]


def test_the_environment_is_the_one_the_handler_reads(synth, context):
    # Given the function's environment with the default context
    _, function = _function(synth)
    env = function["Properties"]["Environment"]["Variables"]
    # Then it holds exactly the DESIGN's variables (DEFAULT_FROM/TEMPLATE unset when empty)
    assert set(env) == ENVIRONMENT
    assert env["DLQ_URL"] == ref(synth.logical_id("AWS::SQS::Queue", "QueuesDlq"))
    assert env["QUEUE_URL"] == ref(synth.logical_id("AWS::SQS::Queue", "QueuesQueue"))
    assert env["CONFIGURATION_SET_NAME"] == ref(synth.one("AWS::SES::ConfigurationSet")[0])
    assert env["IDEMPOTENCY_TABLE"] == ref(synth.one("AWS::DynamoDB::Table", "Idempotency")[0])
    assert env["IDEMPOTENCY_TTL_SECONDS"] == str(context["idempotency_ttl_seconds"])
    assert env["STATUS_TABLE"] == ref(synth.one("AWS::DynamoDB::Table", "Status")[0])
    assert env["STATUS_TTL_SECONDS"] == str(context["status_ttl_days"] * 86400)
    assert env["MAX_RECEIVE_COUNT"] == str(context["max_receive_count"])
    assert json.loads(env["DEFAULT_TAGS"]) == context["default_tags"]
    assert env["MAX_SEND_RATE"] == str(context["max_send_rate"])
    assert env["MAX_CALLS_IN_FLIGHT"] == str(context["max_calls_in_flight"])
    assert env["RETRY_BACKOFF_BASE_SECONDS"] == str(context["retry_backoff_base_seconds"])
    assert env["RETRY_BACKOFF_MAX_SECONDS"] == str(context["retry_backoff_max_seconds"])
    assert env["POWERTOOLS_SERVICE_NAME"] == context["service_name"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == context["metrics_namespace"]
    assert env["POWERTOOLS_LOG_LEVEL"] == context["log_level"]


def test_optional_defaults_reach_the_environment_when_set(variant):
    # Given an app whose context sets a default sender, template and tags (as -c text)
    _, function = variant.one("AWS::Lambda::Function", "Sender")
    env = function["Properties"]["Environment"]["Variables"]
    # Then the function gets them
    assert env["DEFAULT_FROM"] == "News <news@example.org>"
    assert env["DEFAULT_TEMPLATE"] == "welcome"
    assert json.loads(env["DEFAULT_TAGS"]) == {"source": "newsletter"}


def test_the_event_source_mapping_reports_batch_item_failures(synth, context):
    # Given the event source mapping
    _, mapping = synth.one("AWS::Lambda::EventSourceMapping", "SenderFunction")
    properties = mapping["Properties"]
    # Then it reads the queue for the function, and takes partial batch responses
    assert properties["EventSourceArn"] == arn_of(
        synth.logical_id("AWS::SQS::Queue", "QueuesQueue")
    )
    assert properties["FunctionName"] == ref(_function(synth)[0])
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # And its batch size and window come from context
    assert properties["BatchSize"] == context["batch_size"]
    assert properties["MaximumBatchingWindowInSeconds"] == context["max_batching_window_seconds"]


def test_the_mapping_scales_to_the_same_concurrency_the_handler_paces_for(synth, context):
    # Given the mapping and the function
    _, mapping = synth.one("AWS::Lambda::EventSourceMapping", "SenderFunction")
    _, function = _function(synth)
    # When the mapping's maximum concurrency and the function's MAX_CONCURRENCY are read
    scaling = mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"]
    pacing = function["Properties"]["Environment"]["Variables"]["MAX_CONCURRENCY"]
    # Then both are the context's max_concurrency (default 5)
    assert scaling == int(pacing) == context["max_concurrency"] == 5


def test_the_default_batch_fills_several_calls_and_fits_the_invocation_payload(context):
    # Given the default batch size
    batch_size = context["batch_size"]
    # Then a batch fills several 50-destination SendBulkEmail calls, not a fraction of one
    assert batch_size >= 4 * 50
    # And records averaging 30 KB of body still fit Lambda's 6 MB payload; larger bodies
    # (up to the queue's 256 KiB) only make the poller cut the batch at 6 MB
    assert batch_size * (RECORD_ENVELOPE_BYTES + AVERAGE_BODY_BYTES) <= PAYLOAD_LIMIT_BYTES
    # And the poller waits for the window to fill a batch (SQS requires it above 10 records)
    assert context["max_batching_window_seconds"] >= 1


def test_a_context_batch_size_given_as_text_is_used(variant):
    # Given an app whose context sets batch_size as the command line does ("300")
    _, mapping = variant.one("AWS::Lambda::EventSourceMapping", "SenderFunction")
    # Then the mapping takes it as a number
    assert mapping["Properties"]["BatchSize"] == 300
