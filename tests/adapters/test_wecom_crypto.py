"""WeCom callback crypto and XML: every published vector, the failure modes, and properties."""

from __future__ import annotations

import base64
import json
import os
import struct
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.wecom.crypto import WeComCrypto, ensure_fresh
from adapters.wecom.xml import build_xml, parse_xml
from bot.errors import BadRequestError, ConfigError, SignatureError


def _shared_dir() -> Path:
    override = os.environ.get("QDBOT_SHARED_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2].parent / "shared"


VECTORS = json.loads((_shared_dir() / "wecom" / "vectors.json").read_text(encoding="utf-8"))
V1, V3 = VECTORS["V1"], VECTORS["V3"]
REJECTED = (BadRequestError, SignatureError)


def crypto_for(vector: dict, receive_id: str | None = None) -> WeComCrypto:
    return WeComCrypto(vector["token"], vector["encoding_aes_key"], receive_id or vector["corp_id"])


def raw_ciphertext(vector: dict, plain: bytes) -> str:
    """Encrypt ``plain`` as is (no header, no padding added) with the vector's key and IV."""
    key = base64.b64decode(vector["encoding_aes_key"] + "=")
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def framed(message: bytes, receive_id: bytes, pad: bytes) -> bytes:
    return b"R" * 16 + struct.pack(">I", len(message)) + message + receive_id + pad


# --- published vectors --------------------------------------------------------------------


@pytest.mark.parametrize("vector", [V1, V3], ids=["V1", "V3"])
def test_url_verification_returns_the_decrypted_echostr(vector):
    url = vector["verify_url"]
    body = crypto_for(vector).verify_url(url["msg_signature"], url["timestamp"], url["nonce"],
                                         url["echostr"])
    assert body == url["expected_body"]


def test_url_verification_works_from_the_raw_query_string():
    query = {k: v[0] for k, v in parse_qs(V1["verify_url"]["query_string"]).items()}
    body = crypto_for(V1).verify_url(query["msg_signature"], query["timestamp"], query["nonce"],
                                     query["echostr"])
    assert body == V1["verify_url"]["expected_body"]


@pytest.mark.parametrize("vector", [V1, V3], ids=["V1", "V3"])
def test_url_verification_tolerates_plus_signs_that_arrived_as_spaces(vector):
    url = vector["verify_url"]
    assert "+" in url["echostr"]
    mangled = url["echostr"].replace("+", " ")
    body = crypto_for(vector).verify_url(url["msg_signature"], url["timestamp"], url["nonce"], mangled)
    assert body == url["expected_body"]


def test_url_verification_with_another_nonce_is_rejected():
    url = V3["verify_url"]
    assert url["nonce"] == "437374425"
    with pytest.raises(SignatureError):
        crypto_for(V3).verify_url(url["msg_signature"], url["timestamp"], "437374424", url["echostr"])


def test_v1_post_body_decrypts_to_the_expected_inner_xml():
    post = V1["decrypt_post"]
    inner = crypto_for(V1).decrypt_post(post["msg_signature"], post["timestamp"], post["nonce"],
                                        post["body"].encode())
    assert inner == post["expected_plaintext"]
    assert parse_xml(inner)["Content"] == "hello"


def test_v1_encryption_with_its_random_bytes_reproduces_the_encrypt_value_exactly():
    post = V1["decrypt_post"]
    encrypt = parse_xml(post["body"])["Encrypt"]
    crypto = crypto_for(V1)
    assert crypto.encrypt(post["expected_plaintext"], post["random16"].encode()) == encrypt
    assert crypto.signature(post["timestamp"], post["nonce"], encrypt) == post["msg_signature"]


def test_v1_plaintext_carries_a_thirty_byte_pad_of_block_size_32():
    post = V1["decrypt_post"]
    key = base64.b64decode(V1["encoding_aes_key"] + "=")
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    raw = base64.b64decode(parse_xml(post["body"])["Encrypt"])
    plain = dec.update(raw) + dec.finalize()
    assert plain[-1] == 30 and plain.endswith(bytes([30]) * 30)
    assert len(plain) % 32 == 0 and len(plain) % 16 == 0


def test_v3_encrypt_value_verifies_and_decrypts_to_the_expected_fields():
    post = V3["decrypt_post"]
    crypto = crypto_for(V3)
    crypto.verify(post["msg_signature"], post["timestamp"], post["nonce"], post["encrypt"])
    fields = parse_xml(crypto.decrypt(post["encrypt"]))
    assert {k: fields[k] for k in post["expected"]} == post["expected"]


def test_v3_passive_reply_reproduces_the_published_encrypt_and_signature():
    reply = V3["encrypt_reply"]
    xml = crypto_for(V3).encrypt_reply(reply["plaintext"], reply["timestamp"], reply["nonce"],
                                       reply["random16"].encode())
    fields = parse_xml(xml)
    assert fields["Encrypt"] == reply["expected_encrypt"]
    assert fields["MsgSignature"] == reply["expected_msg_signature"]
    assert (fields["TimeStamp"], fields["Nonce"]) == (reply["timestamp"], reply["nonce"])
    assert "<TimeStamp>1411525903</TimeStamp>" in xml


def test_v3_passive_reply_decrypts_back_to_its_plaintext():
    reply = V3["encrypt_reply"]
    crypto = crypto_for(V3)
    xml = crypto.encrypt_reply(reply["plaintext"], reply["timestamp"], reply["nonce"])
    fields = parse_xml(xml)
    assert crypto.decrypt_post(fields["MsgSignature"], reply["timestamp"], reply["nonce"],
                               xml.encode()) == reply["plaintext"]


# --- rejections ---------------------------------------------------------------------------


def test_a_message_for_another_corp_id_is_rejected():
    post = V1["decrypt_post"]
    with pytest.raises(SignatureError, match="receive id"):
        crypto_for(V1, "wx0000000000000000").decrypt_post(
            post["msg_signature"], post["timestamp"], post["nonce"], post["body"].encode())


def test_a_post_with_a_tampered_signature_is_rejected():
    post = V1["decrypt_post"]
    bad = "0" + post["msg_signature"][1:]
    with pytest.raises(SignatureError):
        crypto_for(V1).decrypt_post(bad, post["timestamp"], post["nonce"], post["body"].encode())


def test_a_post_whose_encrypt_was_changed_no_longer_verifies():
    post = V1["decrypt_post"]
    body = post["body"].replace("RypEvHKD8QQ", "RypEvHKD8QR")
    with pytest.raises(SignatureError):
        crypto_for(V1).decrypt_post(post["msg_signature"], post["timestamp"], post["nonce"],
                                    body.encode())


def test_a_non_ascii_signature_is_rejected_not_crashed():
    url = V3["verify_url"]
    with pytest.raises(SignatureError):
        crypto_for(V3).verify_url("签名", url["timestamp"], url["nonce"], url["echostr"])


def test_a_post_without_encrypt_is_a_bad_request():
    with pytest.raises(BadRequestError, match="Encrypt"):
        crypto_for(V1).decrypt_post("x", "1", "2", b"<xml><ToUserName>a</ToUserName></xml>")


def test_tampered_ciphertext_that_breaks_the_padding_is_a_bad_request():
    raw = bytearray(base64.b64decode(V3["decrypt_post"]["encrypt"]))
    raw[-17] ^= 0x01  # CBC: flips the last plaintext byte, the pad value, so the pad cannot check
    with pytest.raises(BadRequestError):
        crypto_for(V3).decrypt(base64.b64encode(bytes(raw)).decode())


@pytest.mark.parametrize("pad", [b"\x00" * 32, b"\x21" * 32, b"\x01\x05\x05\x05\x05"],
                         ids=["zero", "thirty-three", "inconsistent"])
def test_invalid_pkcs7_padding_is_a_bad_request(pad):
    body = framed(b"<xml/>", V3["corp_id"].encode(), b"")
    body += b"x" * ((-len(body) - len(pad)) % 32) + pad
    with pytest.raises(BadRequestError, match="padding"):
        crypto_for(V3).decrypt(raw_ciphertext(V3, body))


def test_a_full_block_of_padding_value_32_is_added_and_accepted():
    message = "x" * (64 - 20 - len(V3["corp_id"]))  # the frame fills exactly two blocks
    crypto = crypto_for(V3)
    encrypt = crypto.encrypt(message, b"R" * 16)
    assert len(base64.b64decode(encrypt)) == 96
    assert crypto.decrypt(encrypt) == message


def test_a_length_field_beyond_the_message_is_a_bad_request():
    body = b"R" * 16 + struct.pack(">I", 10_000) + b"short" + V3["corp_id"].encode()
    body += bytes([32 - len(body) % 32]) * (32 - len(body) % 32)
    with pytest.raises(BadRequestError, match="length"):
        crypto_for(V3).decrypt(raw_ciphertext(V3, body))


def test_a_message_that_is_not_utf8_is_a_bad_request():
    body = framed(b"\xff\xfe", V3["corp_id"].encode(), b"")
    body += bytes([32 - len(body) % 32]) * (32 - len(body) % 32)
    with pytest.raises(BadRequestError, match="UTF-8"):
        crypto_for(V3).decrypt(raw_ciphertext(V3, body))


@pytest.mark.parametrize("encrypt", ["", "not base64!", "QUJD", "QUJDRA==", "密文"],
                         ids=["empty", "bad-chars", "3-bytes", "4-bytes", "non-ascii"])
def test_malformed_encrypt_values_are_bad_requests(encrypt):
    with pytest.raises(BadRequestError):
        crypto_for(V3).decrypt(encrypt)


# --- configuration and freshness ----------------------------------------------------------


@pytest.mark.parametrize(("token", "key", "corp"), [
    ("tok", V1["encoding_aes_key"][:-1], "corp"),
    ("tok", V1["encoding_aes_key"] + "A", "corp"),
    ("tok", "!" * 43, "corp"),
    ("t" * 33, V1["encoding_aes_key"], "corp"),
    ("", V1["encoding_aes_key"], "corp"),
    ("to ken", V1["encoding_aes_key"], "corp"),
    ("tok", V1["encoding_aes_key"], ""),
], ids=["key-42", "key-44", "key-not-base64", "token-33", "token-empty", "token-space", "no-corp"])
def test_bad_settings_are_refused_with_a_config_error(token, key, corp):
    with pytest.raises(ConfigError):
        WeComCrypto(token, key, corp)


def test_random16_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="16 bytes"):
        crypto_for(V1).encrypt("x", b"short")


def test_a_fresh_timestamp_passes_and_a_stale_one_is_rejected():
    ensure_fresh("1000", max_age=300, now=1200)
    with pytest.raises(SignatureError):
        ensure_fresh("1000", max_age=300, now=1301)
    with pytest.raises(SignatureError):
        ensure_fresh("2000", max_age=300, now=1000)


def test_a_non_numeric_timestamp_is_a_bad_request():
    with pytest.raises(BadRequestError):
        ensure_fresh("12a", max_age=300, now=0)


# --- XML ----------------------------------------------------------------------------------


def test_inner_xml_parses_the_same_with_or_without_cdata():
    plain = "<xml><MsgType>text</MsgType><Content>你好</Content><MsgId>7</MsgId></xml>"
    wrapped = "<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content>" \
              "<MsgId>7</MsgId></xml>"
    assert parse_xml(plain) == parse_xml(wrapped.encode()) == {
        "MsgType": "text", "Content": "你好", "MsgId": "7"}


def test_nested_elements_flatten_to_dotted_keys():
    xml = "<xml><Event>scancode_push</Event><ScanCodeInfo><ScanResult>r</ScanResult>" \
          "</ScanCodeInfo></xml>"
    assert parse_xml(xml) == {"Event": "scancode_push", "ScanCodeInfo.ScanResult": "r"}


@pytest.mark.parametrize("doc", [
    b"<xml><a>1</a>",
    b"not xml",
    b"<root><a>1</a></root>",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><A>&a;</A></xml>',
    b'<!DOCTYPE xml SYSTEM "http://127.0.0.1/x.dtd"><xml/>',
], ids=["unclosed", "text", "wrong-root", "entity", "external-dtd"])
def test_malformed_or_dangerous_xml_is_a_bad_request(doc):
    with pytest.raises(BadRequestError):
        parse_xml(doc)


def test_xml_over_the_size_limit_is_rejected_before_parsing():
    doc = b"<xml><Content>" + b"a" * (64 * 1024) + b"</Content></xml>"
    with pytest.raises(BadRequestError, match="exceeds"):
        parse_xml(doc)


def test_built_xml_round_trips_even_text_that_closes_cdata():
    fields = {"Content": "a]]>b<c>&", "CreateTime": 1409659813}
    xml = build_xml(fields)
    assert "<CreateTime>1409659813</CreateTime>" in xml
    assert parse_xml(xml) == {"Content": "a]]>b<c>&", "CreateTime": "1409659813"}


@pytest.mark.parametrize("fields", [{"bad tag": "x"}, {"A": "\x00"}, {"A": 1.5}],
                         ids=["tag", "control-char", "float"])
def test_the_builder_refuses_what_xml_cannot_carry(fields):
    with pytest.raises(ValueError):
        build_xml(fields)


# --- properties ---------------------------------------------------------------------------

CRYPTO = crypto_for(V1)


@given(st.text(), st.binary(min_size=16, max_size=16))
def test_any_unicode_text_round_trips_through_encrypt_and_decrypt(text, random16):
    assert CRYPTO.decrypt(CRYPTO.encrypt(text, random16)) == text


@given(st.text())
def test_any_text_survives_a_signed_post_round_trip(text):
    encrypt = CRYPTO.encrypt(text)
    body = build_xml({"ToUserName": V1["corp_id"], "Encrypt": encrypt}).encode()
    signature = CRYPTO.signature("1", "2", encrypt)
    assert CRYPTO.decrypt_post(signature, "1", "2", body) == text


def _decrypt_or_reject(encrypt: str) -> None:
    try:
        assert isinstance(CRYPTO.decrypt(encrypt), str)
    except REJECTED:
        pass


@given(st.binary(max_size=200))
def test_decrypting_arbitrary_ciphertext_only_ever_rejects_cleanly(raw):
    _decrypt_or_reject(base64.b64encode(raw).decode())


@given(st.text(max_size=100))
def test_decrypting_arbitrary_strings_only_ever_rejects_cleanly(text):
    _decrypt_or_reject(text)


@settings(max_examples=300)
@given(st.binary(max_size=160).map(lambda b: b + bytes(-len(b) % 16) if b else bytes(16)))
def test_decrypting_arbitrary_plaintext_blocks_only_ever_rejects_cleanly(plain):
    _decrypt_or_reject(raw_ciphertext(V1, plain))


@given(st.binary(max_size=300), st.text(max_size=50))
def test_arbitrary_post_bodies_and_signatures_only_ever_reject_cleanly(body, signature):
    with pytest.raises(REJECTED):
        CRYPTO.decrypt_post(signature, "1", "2", body)


_XML_PREFIXES = st.sampled_from([b"", b"<xml>", b"<xml><Encrypt>", b'<?xml version="1.0"?>',
                                 b'<?xml version="1.0" encoding="no-such-codec"?><xml>',
                                 b'<?xml version="1.0" encoding="utf-16"?>'])


@settings(max_examples=300)
@given(_XML_PREFIXES, st.binary(max_size=100))
def test_parsing_arbitrary_bytes_returns_a_dict_or_a_bad_request(prefix, tail):
    try:
        assert isinstance(parse_xml(prefix + tail), dict)
    except BadRequestError:
        pass
