"""The characters a dead letter's attributes replace are exactly those SQS refuses."""

import re

from bulk_sender.dlq import _attribute_text

# SQS's documented set of allowed characters, as the XML 1.0 Char production states it.
ALLOWED = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def test_every_code_point_is_kept_or_replaced_as_sqs_allows():
    # Given every Unicode code point, one after the other
    everything = "".join(map(chr, range(0x110000)))
    # When the text becomes an attribute value
    kept = _attribute_text(everything)
    # Then each allowed character is kept and each other one is U+FFFD
    assert len(kept) == len(everything)
    expected = "".join(c if ALLOWED.fullmatch(c) else "\ufffd" for c in everything)
    assert kept == expected
