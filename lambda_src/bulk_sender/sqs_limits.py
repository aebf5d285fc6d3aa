"""The queues' maximum message sizes: the stack sets them, the handler and the CLI size their
writes by them. SQS counts a message's attributes (names, types, values) toward its size.

This module imports nothing, so the CDK app can load it without the Lambda's dependencies.
"""

# A message on the send queue: body and the producer's attributes.
MAX_MESSAGE_BYTES = 262_144
# What the handler's four attributes (ErrorCode, ErrorMessage, SourceMessageId, FailedAt)
# can take at most, their names and types included (dlq.py caps each value).
DEAD_LETTER_ATTRIBUTES_BYTES = 8_192
# A dead letter: the original message, byte for byte, plus those four attributes.
DLQ_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES + DEAD_LETTER_ATTRIBUTES_BYTES
