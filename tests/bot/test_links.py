"""Signed links: valid until they expire, rejected when altered or used for another kind."""
from bot.links import sign, verify

KEY = b"k" * 32


def test_a_signed_link_verifies_to_its_id_until_it_expires():
    token = sign(KEY, "answer", 42, ttl_seconds=60, now=1000)
    assert verify(KEY, token, "answer", now=1059) == "42"
    assert verify(KEY, token, "answer", now=1061) is None


def test_an_altered_token_another_kind_or_another_key_is_rejected():
    token = sign(KEY, "answer", 42, now=1000)
    assert verify(KEY, token[:-2] + "xx", "answer", now=1000) is None
    assert verify(KEY, token, "console", now=1000) is None
    assert verify(b"other", token, "answer", now=1000) is None
    assert verify(KEY, "garbage", "answer") is None
