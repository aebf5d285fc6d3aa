"""The local run (DESIGN.md section 8): the real handler on an embedded AWS emulator.

`run_local(rows)` starts moto's server in process (bulkmail.local.emulator), provisions what the
stack provisions, enqueues the rows with the CLI's own code (bulkmail.queues.Enqueuer) in
chunks while it drains, polls the queue as Lambda's event source mapping does, invokes
`handler.lambda_handler` with an SQS event and a Lambda context, deletes what the handler did
not report in `batchItemFailures`, and returns a `Summary`.

Local settings differ from the stack's where time demands it (LocalSettings):
- the time ratio is the stack's (DESIGN.md section 12): each invocation's deadline is the
  function timeout and the queues' visibility timeout six of those plus the batching window,
  so no record reaches a second invocation while the first still sends it; what is shortened
  is the wait after an invocation ended: records it gave back (batchItemFailures, or all of
  a batch whose invocation died) are visible again after 1 s; the handler's retry backoff is
  off (RETRY_BACKOFF_BASE_SECONDS=0);
- the send rate is set explicitly: the emulator's GetAccount answers 500/s (moto's own quota
  is 1/s) and MAX_SEND_RATE is 450 (its 90 %, one invocation at a time);
- one invocation at a time, each gathering up to 100 records (or what one short poll round
  finds), instead of Lambda's concurrent pollers.

Chaos knobs (issue 6): `crash_rate` makes an invocation "die after its calls and before it
returns": the poller drops its answer and deletes nothing, so SQS delivers the batch again.
`dlq_fail_rate` makes a seeded share of the handler's DLQ writes fail (the handler's SQS
client's SendMessageBatch, the DLQ writer's only call: entries come back `Failed`, or the
whole call raises when every entry of it drew a failure).
"""

from bulkmail.local.http import serve, unsubscribe_endpoint
from bulkmail.local.invoke import FlakyDlqWrites, LambdaContext, emf_counters, sqs_event
from bulkmail.local.loop import one_click, unsubscribe_loop
from bulkmail.local.poller import Poller, read_dlq
from bulkmail.local.provision import provision
from bulkmail.local.run import DEMO_OPTIONS, Faults, LocalRun, demo_rows, run_local
from bulkmail.local.settings import EXAMPLES, TEMPLATES, LocalSettings
from bulkmail.local.summary import Progress, Summary

__all__ = [
    "DEMO_OPTIONS",
    "EXAMPLES",
    "TEMPLATES",
    "Faults",
    "FlakyDlqWrites",
    "LambdaContext",
    "LocalRun",
    "LocalSettings",
    "Poller",
    "Progress",
    "Summary",
    "demo_rows",
    "emf_counters",
    "one_click",
    "provision",
    "read_dlq",
    "run_local",
    "serve",
    "sqs_event",
    "unsubscribe_endpoint",
    "unsubscribe_loop",
]
