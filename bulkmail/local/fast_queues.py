"""moto's standard SQS queues at the cost of the messages a call touches, not the queue's depth.

moto 5.2 keeps a queue's messages in one list and scans it on nearly every call: a send
computes every queue attribute (three of them count the whole queue), a receive lists every
visible message, a delete scans the queue twice and rebuilds the list, GetQueueAttributes
counts the queue several times per attribute asked. At 20,000 messages a local enqueue ran
at ~30 rows/s and the sender at a fraction of its rate. `install()` swaps in an index for
standard queues (FIFO queues keep moto's code): the messages by id, the visible ones in a
heap by arrival order (moto's receive order), the hidden ones (in flight, delayed) in a heap
by the time they show again, and a map from every receipt handle a message had to it.

The rules are moto's (tests/emulator/test_fast_queues.py runs the same calls against both
and compares the answers): receive returns visible messages oldest first, marks them
received and hides them for the visibility timeout (0: they stay visible); a message received
`maxReceiveCount` times moves to the dead-letter queue on the next receive; a delete takes
any receipt handle the message ever had, a second delete of it succeeds, an unknown handle
is ReceiptHandleIsInvalid; ChangeMessageVisibility re-times a message (beyond 12 hours from
its send: InvalidParameterValue); the three approximate counts count visible, in flight and
delayed. What differs, on purpose: the handles of deleted messages are remembered for the
last `DELETED_HANDLES` deletes only (moto: forever), and a message past its retention period
is dropped on receive (moto marks it received and stops the receive). moto's Lambda event
source mappings on SQS are not run for these queues (the local run polls the queues itself).
"""

from __future__ import annotations

import copy
import heapq
import itertools
import threading
from collections import OrderedDict
from typing import Any

from moto.sqs import models as sqs_models
from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid
from moto.sqs.models import Message, Queue, SQSBackend

DELETED_HANDLES = 100_000  # receipt handles of deleted messages remembered (a re-delete is ok)
MAX_VISIBILITY_MS = 43_200 * 1000

_lock = threading.RLock()  # one for all queues: a move to the DLQ touches two
_INDEX = "_bulkmail_index"
_ORIGINAL: dict[tuple[type, str], Any] = {}
_PATCHED = (
    "add_message",
    "delete_message",
    "messages",
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)
_BACKEND_PATCHED = ("receive_message", "change_message_visibility", "purge_queue")

VISIBLE, IN_FLIGHT, DELAYED = "visible", "in_flight", "delayed"


class _Index:
    """One standard queue's messages, indexed (see the module doc)."""

    def __init__(self) -> None:
        self.messages: dict[str, Message] = {}
        self.ready: list[tuple[int, int, Message]] = []  # (arrival, generation, message)
        self.hidden: list[tuple[float, int, int, Message]] = []  # (due ms, arrival, gen, msg)
        self.handles: dict[str, str] = {}  # every receipt handle a message had -> its id
        self.deleted: OrderedDict[str, None] = OrderedDict()
        self.counts = {VISIBLE: 0, IN_FLIGHT: 0, DELAYED: 0}
        self.arrivals = itertools.count()
        self.generations = itertools.count()

    def add(self, message: Message, now: float) -> None:
        message._bm_arrival = next(self.arrivals)  # type: ignore[attr-defined]
        message._bm_state = None  # type: ignore[attr-defined]
        self.messages[message.id] = message
        for handle in message.all_receipt_handles:
            if handle:
                self.handles[handle] = message.id
        self.place(message, now)

    def place(self, message: Message, now: float) -> None:
        """File the message by its timers: in flight, delayed or visible."""
        state = getattr(message, "_bm_state", None)
        if state is not None:
            self.counts[state] -= 1
        generation = next(self.generations)
        message._bm_generation = generation  # type: ignore[attr-defined]
        arrival = message._bm_arrival  # type: ignore[attr-defined]
        if message.visible_at >= now:  # moto: visible once the clock is past visible_at
            state = IN_FLIGHT
            heapq.heappush(self.hidden, (message.visible_at, arrival, generation, message))
        elif message.delayed_until > now:
            state = DELAYED
            heapq.heappush(self.hidden, (message.delayed_until, arrival, generation, message))
        else:
            state = VISIBLE
            heapq.heappush(self.ready, (arrival, generation, message))
        message._bm_state = state  # type: ignore[attr-defined]
        self.counts[state] += 1

    def current(self, generation: int, message: Message) -> bool:
        return (
            self.messages.get(message.id) is message and message._bm_generation == generation  # type: ignore[attr-defined]
        )

    def advance(self, now: float) -> None:
        """What is due shows again."""
        due = []
        while self.hidden and self.hidden[0][0] <= now:
            _due, _arrival, generation, message = heapq.heappop(self.hidden)
            if self.current(generation, message):
                due.append(message)
        for message in due:
            self.place(message, now)

    def pop_visible(self) -> Message | None:
        while self.ready:
            _arrival, generation, message = heapq.heappop(self.ready)
            if self.current(generation, message):
                return message
        return None

    def remove(self, message: Message) -> None:
        del self.messages[message.id]
        self.counts[message._bm_state] -= 1  # type: ignore[attr-defined]
        message._bm_state = None  # type: ignore[attr-defined]
        for handle in message.all_receipt_handles:
            self.handles.pop(handle, None)  # type: ignore[arg-type]

    def forget_deleted(self, message: Message) -> None:
        for handle in message.all_receipt_handles:
            if handle:
                self.deleted[handle] = None
        while len(self.deleted) > DELETED_HANDLES:
            self.deleted.popitem(last=False)


def install() -> None:
    """Index moto's standard queues (idempotent)."""
    if _ORIGINAL:
        return
    for name in _PATCHED:
        _ORIGINAL[(Queue, name)] = vars(Queue)[name]
    for name in _BACKEND_PATCHED:
        _ORIGINAL[(SQSBackend, name)] = vars(SQSBackend)[name]
    Queue.add_message = _add_message  # type: ignore[method-assign]
    Queue.delete_message = _delete_message  # type: ignore[method-assign]
    Queue.messages = property(_messages)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages = property(_counter(VISIBLE, ""))  # type: ignore
    Queue.approximate_number_of_messages_delayed = property(_counter(DELAYED, "_delayed"))  # type: ignore
    Queue.approximate_number_of_messages_not_visible = property(  # type: ignore
        _counter(IN_FLIGHT, "_not_visible")
    )
    SQSBackend.receive_message = _receive_message  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = _change_message_visibility  # type: ignore
    SQSBackend.purge_queue = _purge_queue  # type: ignore[method-assign]


def uninstall() -> None:
    """moto's own code again (for the tests that compare both)."""
    for (owner, name), member in _ORIGINAL.items():
        setattr(owner, name, member)
    _ORIGINAL.clear()


# moto.sqs.models imports its clock from moto.core.utils without re-exporting it; it is read
# there at each call (as moto_patches replaces it) so that the patched or a test's clock runs.
def _now() -> float:
    return sqs_models.unix_time_millis()  # type: ignore[attr-defined]


def _now_seconds() -> float:
    return sqs_models.unix_time()  # type: ignore[attr-defined]


def _index(queue: Queue) -> _Index | None:
    """The queue's index; None for a FIFO queue (moto's own code serves it)."""
    if queue.fifo_queue:
        return None
    found = vars(queue).get(_INDEX)
    if found is None:
        found = vars(queue)[_INDEX] = _Index()
    return found


def _original(owner: type, name: str) -> Any:
    member = _ORIGINAL[(owner, name)]
    return member.fget if isinstance(member, property) else member


def _add_message(self: Queue, message: Message) -> None:
    index = _index(self)
    if index is None:
        return _original(Queue, "add_message")(self, message)
    with _lock:
        index.add(message, _now())
    with self._messages_lock:
        self._messages_lock.notify_all()
    return None


def _delete_message(self: Queue, receipt_handle: str) -> None:
    index = _index(self)
    if index is None:
        return _original(Queue, "delete_message")(self, receipt_handle)
    with _lock:
        if receipt_handle in index.deleted:
            return None  # already deleted: deleting it again succeeds
        message_id = index.handles.get(receipt_handle)
        if message_id is None:
            raise ReceiptHandleIsInvalid()
        message = index.messages[message_id]
        index.remove(message)
        index.forget_deleted(message)
    return None


def _messages(self: Queue) -> list[Message]:
    """The visible messages, oldest first (moto's `Queue.messages`)."""
    index = _index(self)
    if index is None:
        return _original(Queue, "messages")(self)
    with _lock:
        index.advance(_now())
        found = [m for _a, g, m in index.ready if index.current(g, m)]
    return sorted(found, key=lambda message: message._bm_arrival)  # type: ignore[attr-defined]


def _counter(state: str, suffix: str) -> Any:
    name = f"approximate_number_of_messages{suffix}"

    def count(self: Queue) -> int:
        index = _index(self)
        if index is None:
            return _original(Queue, name)(self)
        with _lock:
            index.advance(_now())
            return index.counts[state]

    return count


def _receive_message(
    self: SQSBackend,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Message]:
    queue = self.get_queue(queue_name)
    index = _index(queue)
    if index is None:
        return _original(SQSBackend, "receive_message")(
            self, queue_name, count, wait_seconds_timeout, visibility_timeout,
            message_attribute_names,
        )  # fmt: skip
    polling_end = _now_seconds() + wait_seconds_timeout
    while True:
        result = _receive_now(self, queue, index, count, visibility_timeout)
        remaining = polling_end - _now_seconds()
        if result or remaining <= 0:
            break
        with queue._messages_lock:
            queue._messages_lock.wait(timeout=min(1.0, remaining))
    for message in result:
        sqs_models._filter_message_attributes(message, message_attribute_names or [])
    return result


def _receive_now(
    backend: SQSBackend, queue: Queue, index: _Index, count: int, visibility_timeout: int
) -> list[Message]:
    result: list[Message] = []
    still_visible: list[Message] = []  # received with a visibility timeout of 0
    retention_ms = int(queue.message_retention_period) * 1000  # type: ignore[attr-defined]
    with _lock:
        now = _now()
        index.advance(now)
        while len(result) < count:
            message = index.pop_visible()
            if message is None:
                break
            if (
                queue.dead_letter_queue is not None
                and queue.redrive_policy
                and message.approximate_receive_count >= queue.redrive_policy["maxReceiveCount"]
            ):
                index.remove(message)
                queue.dead_letter_queue.add_message(message)
                continue
            if message.sent_timestamp + retention_ms <= now:  # type: ignore[operator]
                index.remove(message)  # past its retention period: SQS drops it
                continue
            message.mark_received(visibility_timeout=visibility_timeout)
            index.handles[message.receipt_handle] = message.id  # type: ignore[index]
            if message.visible_at >= now:
                index.place(message, now)
            else:
                still_visible.append(message)
            received = copy.copy(message)
            received.message_attributes = dict(message.message_attributes)
            result.append(received)
        for message in still_visible:
            index.place(message, now)
    return result


def _change_message_visibility(
    self: SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int
) -> None:
    queue = self.get_queue(queue_name)
    index = _index(queue)
    if index is None:
        return _original(SQSBackend, "change_message_visibility")(
            self, queue_name, receipt_handle, visibility_timeout
        )
    with _lock:
        message_id = index.handles.get(receipt_handle)
        if message_id is None:
            raise ReceiptHandleIsInvalid
        message = index.messages[message_id]
        given = _now() + int(visibility_timeout) * 1000
        if given - message.sent_timestamp > MAX_VISIBILITY_MS:  # type: ignore[operator]
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. "
                "Reason: Total VisibilityTimeout for the message is beyond the limit "
                "[43200 seconds]"
            )
        message.change_visibility(visibility_timeout)
        index.place(message, _now())
    with queue._messages_lock:
        queue._messages_lock.notify_all()
    return None


def _purge_queue(self: SQSBackend, queue_name: str) -> None:
    _original(SQSBackend, "purge_queue")(self, queue_name)
    queue = self.get_queue(queue_name)
    if _index(queue) is not None:
        with _lock:
            vars(queue)[_INDEX] = _Index()
