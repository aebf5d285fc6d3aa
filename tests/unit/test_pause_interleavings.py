"""The pause's state machine under every interleaving of a pausing sender and a resuming
probe (docs/concepts/pause.md): a stop of the mapping is always backed by a marker, and the
probe clears only the marker it read.

Each case runs the real sender (its Pause) and the real probe in two threads whose calls to
the marker's table and to the mapping take turns in a given order: every order of their
calls is tried. Nothing waits on time: a turn passes when a call returns.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest

from bulk_sender.pause import MARKER_KEY, Marker, MarkerStore
from bulk_sender.probe import probe
from tests.unit.fakes import message, record
from tests.unit.pause_world import Clock, FakeTable, SimMapping, SimSes
from tests.unit.test_pause import Parts, answering, sources

SENDER, PROBE = "sender", "probe"
DEPTH = 7  # the two make 6 or 7 such calls: every order of them is tried


class Turns:
    """Calls of the two threads run one at a time, in the order of `schedule`; once it is
    spent, or the other thread has finished, a call runs when no other call is running."""

    def __init__(self, schedule: list[str]) -> None:
        self._schedule = list(schedule)
        self._done: set[str] = set()
        self._busy = False
        self._turn = threading.Condition()

    def _may_run(self, who: str) -> bool:
        if self._busy:
            return False
        other = PROBE if who == SENDER else SENDER
        return not self._schedule or self._schedule[0] == who or other in self._done

    def call(self, who: str, function: Callable[..., Any], **request: Any) -> Any:
        with self._turn:
            # a guard against a harness bug, never reached by a passing run
            assert self._turn.wait_for(lambda: self._may_run(who), timeout=10), "deadlock"
            self._busy = True
        try:
            return function(**request)
        finally:
            with self._turn:
                self._busy = False
                if self._schedule and self._schedule[0] == who:
                    self._schedule.pop(0)
                elif self._schedule:  # the other finished: its turns are void
                    self._schedule.clear()
                self._turn.notify_all()

    def finish(self, who: str) -> None:
        with self._turn:
            self._done.add(who)
            self._turn.notify_all()


def take_turns(turns: Turns, table: FakeTable, mapping: SimMapping) -> None:
    """Route the threads' table and mapping calls through `turns`."""
    for name in ("put_item", "get_item", "delete_item"):
        plain = getattr(table, name)
        setattr(table, name, lambda plain=plain, **r: turns.call(_who(), plain, **r))
    set_enabled = mapping.set_enabled
    mapping.stop = lambda source_arn: turns.call(_who(), set_enabled, enabled=False)
    mapping.set_enabled = lambda enabled: turns.call(_who(), set_enabled, enabled=enabled)


def _who() -> str:
    return threading.current_thread().name


def run_both(turns: Turns, sender: Callable[[], Any], prober: Callable[[], Any]) -> None:
    errors: list[BaseException] = []

    def body(who: str, work: Callable[[], Any]) -> None:
        try:
            work()
        except BaseException as error:  # reported in the test's thread
            errors.append(error)
        finally:
            turns.finish(who)

    threads = [
        threading.Thread(target=body, args=(SENDER, sender), name=SENDER),
        threading.Thread(target=body, args=(PROBE, prober), name=PROBE),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


SCHEDULES = ["".join(order) for order in itertools.product((SENDER[0], PROBE[0]), repeat=DEPTH)]


def pause_while_resuming(schedule: str, *, paused_before: bool) -> tuple[Parts, Callable[[], Any]]:
    """A sender meeting a pause answer while the probe, seeing SES allow sending again,
    resumes (with a pause already on, or the first one), their calls in `schedule`'s order.
    Returns the parts and the probe's run."""
    parts = Parts(answering("ACCOUNT_SENDING_PAUSED"))
    markers = MarkerStore(parts.table, "ledger")
    if paused_before:
        markers.create(Marker("ACCOUNT_DAILY_QUOTA_EXCEEDED", None, 0, token="old"))
        parts.mapping.set_enabled(False)
    ses = SimSes(Clock())
    turns = Turns([SENDER if c == "s" else PROBE for c in schedule])
    take_turns(turns, parts.table, parts.mapping)

    def send() -> None:
        parts.sender.process(sources([record(message(0, id="k0"), "m0")]))

    def resume() -> None:
        probe(ses=ses, mapping=parts.mapping, markers=markers, default_configuration_set=None)

    run_both(turns, send, resume)
    return parts, resume


@pytest.mark.parametrize("paused_before", [False, True], ids=["first-pause", "paused-again"])
def test_every_stop_of_the_mapping_is_backed_by_a_marker_whatever_the_interleaving(
    paused_before,
):
    for schedule in SCHEDULES:
        # Given a sender pausing while the probe resumes, their calls in this order
        parts, resume = pause_while_resuming(schedule, paused_before=paused_before)
        # Then a stopped mapping has its marker, so the probe's next run restarts it
        stopped = not parts.mapping.is_enabled
        assert not stopped or MARKER_KEY in parts.table.items, schedule
        resume()
        assert parts.mapping.is_enabled, schedule
        assert MARKER_KEY not in parts.table.items, schedule


def test_the_probe_clears_only_the_marker_it_read():
    # Given the probe read a marker, and a sender renewed it before the probe's delete
    table = FakeTable()
    markers = MarkerStore(table, "ledger")
    markers.create(Marker("ACCOUNT_SENDING_PAUSED", None, 0))
    read = markers.get()
    markers.renew(Marker("ACCOUNT_SENDING_PAUSED", None, 5))
    # When the probe clears what it read
    # Then the renewed marker stands, keeping when the pause began
    assert read is not None
    assert not markers.clear(read)
    standing = markers.get()
    assert standing is not None
    assert standing.paused_at == 0
    assert standing.token != read.token
    assert markers.clear(standing)
    assert markers.get() is None


def test_a_marker_written_before_tokens_is_still_cleared_once():
    # Given a marker an older version wrote (no token)
    table = FakeTable()
    table.items[MARKER_KEY] = {
        "id": {"S": MARKER_KEY},
        "reason": {"S": "ACCOUNT_SENDING_PAUSED"},
        "paused_at": {"N": "0"},
    }
    markers = MarkerStore(table, "ledger")
    read = markers.get()
    # Then the probe clears it, and a renewal of it gives it a token
    assert read is not None
    assert read.token == ""
    markers.renew(read)
    assert not markers.clear(read)
    assert markers.get().token  # type: ignore[union-attr]
