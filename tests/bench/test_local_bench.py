"""The local run's benchmark at a small size: the outcome, not the rate (benchmarks are not
tests). `python bench/local_bench.py` runs the 20,000 rows of issue 24 and reports the rates."""

import pytest

from bench import local_bench

pytestmark = pytest.mark.e2e

ROWS = 1_000


def test_every_row_is_enqueued_and_sent_once_and_the_status_table_agrees(tmp_path):
    # Given the sample campaign at 1,000 rows (16 of them bad: refused at enqueue)
    # When it is enqueued onto a local run and drained
    found = local_bench.run_local_bench(ROWS, workdir=tmp_path)

    # Then every valid row went on the queue and was sent exactly once, nothing dead-lettered
    assert found["valid"] == ROWS - 4
    assert found["enqueued"] == found["valid"]
    assert found["sent"] == found["enqueued"]
    assert found["sent_twice"] == 0
    assert found["dead_lettered"] == 0
    assert found["drained"]
    # And the status table counts the same, and the report says so
    assert found["status_enqueued"] == found["enqueued"]
    assert found["status_sent"] == found["sent"]
    text = "\n".join(local_bench.lines(found))
    assert "each once" in text
    assert "agrees" in text
    assert "NOT" not in text
    assert found["ratio"] > 0
