"""DESIGN.md section 11's pause row over simulated days: a fake clock, no real waiting.

Each timeline runs the real sender (BulkSender with its Pause) and the real probe against a
simulated SQS queue (redrive after 5 receives, 14-day retention), SES (a rolling 24-hour
quota, pauses) and the event source mapping.
"""

from bulk_sender.pause import MARKER_KEY
from tests.unit.pause_world import DAY, MINUTE, World

RESUME_WITHIN = 15 * MINUTE


def assert_campaign_finished(world: World, addresses: list[str]) -> None:
    # every message sent exactly once
    assert set(world.ses.sends) == set(addresses)
    assert set(world.ses.sends.values()) == {1}
    # none in the DLQ, none expired, none left, and no receive was spent on the pause
    assert world.sqs.dlq == []
    assert world.sqs.expired == []
    assert world.sqs.messages == {}
    assert world.sqs.max_receive_seen == 1
    # the mapping ends enabled, the marker gone, and it never stayed stopped long once
    # SES allowed sending again
    assert world.mapping.is_enabled
    assert MARKER_KEY not in world.table.items
    assert world.longest_allowed_while_stopped <= RESUME_WITHIN


def test_a_campaign_three_times_the_daily_quota_finishes_over_three_days():
    # Given a daily quota of 1,000 and a campaign of 3,000 sent at 200 a minute
    world = World(quota=1000)
    addresses = world.enqueue_campaign(3000)
    # When 72 hours pass
    world.run(72 * 3600)
    # Then the campaign went out in three daily windows, each email once, none dead-lettered
    assert_campaign_finished(world, addresses)
    stops = [t for t, enabled in world.mapping.history if not enabled]
    starts = [t for t, enabled in world.mapping.history if enabled]
    # stopped when the first day's quota ran out (within minutes), started a day later
    assert stops[0] < 10 * MINUTE
    assert DAY <= starts[0] <= DAY + RESUME_WITHIN
    # the second day's quota ran out too, and sending came back after the third day began
    assert any(DAY < t < 2 * DAY for t in stops)
    assert any(2 * DAY <= t <= 2 * DAY + RESUME_WITHIN for t in starts)
    assert len(stops) == len(starts)
    assert world.paused_invocations == len(stops)
    # and nothing was sent while the quota was spent: each rolling day holds at most 1,000
    assert sum(world.ses.sends.values()) == 3000


def test_an_account_paused_for_ten_days_finishes_after_the_pause():
    # Given SES pauses the account 5 minutes into a 2,000-email campaign, for 10 days
    world = World()
    world.ses.account_paused = [(5 * MINUTE, 5 * MINUTE + 10 * DAY)]
    addresses = world.enqueue_campaign(2000)
    # When 11 days pass
    world.run(11 * DAY)
    # Then the mapping was stopped once at the pause and started once after it, within
    # 15 minutes, and the campaign finished: each email once, none in the DLQ, none expired
    ((stopped, _), (started, _)) = world.mapping.history
    assert 5 * MINUTE <= stopped < 6 * MINUTE + 1
    assert 5 * MINUTE + 10 * DAY <= started <= 5 * MINUTE + 10 * DAY + RESUME_WITHIN
    assert_campaign_finished(world, addresses)
    assert world.paused_invocations == 1


def test_a_paused_configuration_set_waits_then_resumes():
    # Given the configuration set is paused 3 minutes into the campaign, for 2 hours
    world = World()
    world.ses.set_paused = [(3 * MINUTE, 3 * MINUTE + 2 * 3600)]
    addresses = world.enqueue_campaign(2000)
    # When a day passes
    world.run(DAY)
    # Then sending stopped at the pause and came back within 15 minutes of its end
    ((stopped, _), (started, _)) = world.mapping.history
    assert 3 * MINUTE <= stopped < 4 * MINUTE + 1
    assert 3 * MINUTE + 2 * 3600 <= started <= 3 * MINUTE + 2 * 3600 + RESUME_WITHIN
    assert_campaign_finished(world, addresses)


def test_without_the_pause_the_same_quota_would_dead_letter_the_backlog():
    # Given the same 1,000-a-day quota, but a sender whose breaker never trips (the old
    # behaviour: every refused record retried by SQS, delayed by the cap)
    world = World(quota=1000)
    world.sender.pause.observe = lambda results, configuration_set=None: None
    world.enqueue_campaign(3000)
    # When 72 hours pass
    world.run(72 * 3600)
    # Then the backlog reaches the DLQ as retries exhausted: the simulation can tell
    assert len(world.sqs.dlq) > 0
