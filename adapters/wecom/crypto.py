"""WeCom callback crypto: the WXBizMsgCrypt scheme on the ``cryptography`` package.

Pure: no I/O, no clock except in ``ensure_fresh`` (which takes ``now`` for tests).

- signature: ``sha1("".join(sorted([token, timestamp, nonce, encrypt])))``, lower-case hex,
  compared in constant time;
- AES-256-CBC with ``key = b64decode(EncodingAESKey + "=")`` and ``IV = key[:16]``;
- plaintext: 16 random bytes + 4-byte big-endian length + message + ReceiveId (our CorpID),
  PKCS#7-padded to a multiple of **32** bytes.

Errors: a bad setting is a ``ConfigError``; a signature that does not verify, a ReceiveId that is
not ours or a stale timestamp is a ``SignatureError``; anything malformed (base64, padding,
length, UTF-8, XML) is a ``BadRequestError``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from adapters.wecom.xml import build_xml, parse_xml
from bot.errors import BadRequestError, ConfigError, SignatureError

PAD_BLOCK = 32
_AES_BLOCK = 16
_HEADER = 20  # 16 random bytes + 4-byte length
_KEY_CHARS = 43
_MAX_TOKEN_CHARS = 32


class WeComCrypto:
    """Verify, decrypt and encrypt WeCom callbacks for one (Token, EncodingAESKey, ReceiveId)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        _check_token(token)
        if not receive_id:
            raise ConfigError("WeCom receive id (the CorpID) must not be empty")
        self._token = token
        self._key = _decode_key(encoding_aes_key)
        self.receive_id = receive_id
        self._receive_id = receive_id.encode("utf-8")

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """The ``msg_signature`` WeCom computes for these values."""
        joined = "".join(sorted([self._token, timestamp, nonce, encrypt]))
        return hashlib.sha1(joined.encode("utf-8")).hexdigest()

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        """Raise ``SignatureError`` unless ``msg_signature`` signs these values."""
        expected = self.signature(timestamp, nonce, encrypt).encode("ascii")
        if not hmac.compare_digest(expected, msg_signature.encode("utf-8", "surrogatepass")):
            raise SignatureError("WeCom msg_signature does not verify")

    def decrypt(self, encrypt_b64: str) -> str:
        """Decrypt an ``Encrypt`` value and return the message, checking the ReceiveId."""
        plain = _unpad(self._cipher_op(_b64decode(encrypt_b64), decrypt=True))
        message, receive_id = _split(plain)
        if not hmac.compare_digest(receive_id, self._receive_id):
            raise SignatureError("decrypted WeCom message is addressed to another receive id")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequestError("decrypted WeCom message is not UTF-8") from exc

    def encrypt(self, plaintext: str, random16: bytes | None = None) -> str:
        """Encrypt ``plaintext``; deterministic when ``random16`` (16 bytes) is given."""
        prefix = os.urandom(16) if random16 is None else random16
        if len(prefix) != 16:
            raise ValueError(f"random16 must be 16 bytes, got {len(prefix)}")
        message = plaintext.encode("utf-8")
        body = prefix + struct.pack(">I", len(message)) + message + self._receive_id
        return base64.b64encode(self._cipher_op(_pad(body), decrypt=False)).decode("ascii")

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Answer a URL-verification GET: verify, then return the decrypted echostr.

        A ``+`` that a form decoder turned into a space is put back first (base64 has no space).
        """
        echostr = echostr.replace(" ", "+")
        self.verify(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_post(self, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> str:
        """Verify and decrypt a callback POST body ``<xml>...<Encrypt/></xml>``; return inner XML."""
        encrypt = parse_xml(body).get("Encrypt")
        if not encrypt:
            raise BadRequestError("WeCom callback body has no <Encrypt>")
        self.verify(msg_signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def encrypt_reply(self, plaintext: str, timestamp: str, nonce: str,
                      random16: bytes | None = None) -> str:
        """The passive-reply XML: Encrypt, MsgSignature, TimeStamp and Nonce."""
        encrypt = self.encrypt(plaintext, random16)
        return build_xml({
            "Encrypt": encrypt,
            "MsgSignature": self.signature(timestamp, nonce, encrypt),
            "TimeStamp": int(timestamp) if timestamp.isdigit() else timestamp,
            "Nonce": nonce,
        })

    def _cipher_op(self, data: bytes, *, decrypt: bool) -> bytes:
        cipher = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))
        ctx = cipher.decryptor() if decrypt else cipher.encryptor()
        return ctx.update(data) + ctx.finalize()


def ensure_fresh(timestamp: str, max_age: float, now: float | None = None) -> None:
    """Replay protection: raise ``SignatureError`` if ``timestamp`` is more than ``max_age``
    seconds away from ``now`` (either way); ``BadRequestError`` if it is not an integer."""
    if not timestamp.isascii() or not timestamp.isdigit():
        raise BadRequestError(f"WeCom timestamp {timestamp[:20]!r} is not an integer")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > max_age:
        raise SignatureError(f"WeCom timestamp {timestamp} is outside the {max_age:g} s window")


def _check_token(token: str) -> None:
    if not token or len(token) > _MAX_TOKEN_CHARS:
        raise ConfigError(f"WeCom Token must be 1 to {_MAX_TOKEN_CHARS} characters")
    if not token.isascii() or not token.isalnum():
        raise ConfigError("WeCom Token must contain only English letters and digits")


def _decode_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != _KEY_CHARS:
        raise ConfigError(f"WeCom EncodingAESKey must be exactly {_KEY_CHARS} characters, "
                          f"got {len(encoding_aes_key)}")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("WeCom EncodingAESKey is not valid base64") from exc
    return key


def _b64decode(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise BadRequestError("WeCom Encrypt is not valid base64") from exc
    if not raw or len(raw) % _AES_BLOCK:
        raise BadRequestError(f"WeCom ciphertext length {len(raw)} is not a positive multiple of 16")
    return raw


def _pad(data: bytes) -> bytes:
    amount = PAD_BLOCK - len(data) % PAD_BLOCK
    return data + bytes([amount]) * amount


def _unpad(data: bytes) -> bytes:
    amount = data[-1]
    if not 1 <= amount <= PAD_BLOCK or amount > len(data):
        raise BadRequestError("WeCom plaintext has invalid PKCS#7 padding")
    if not hmac.compare_digest(data[-amount:], bytes([amount]) * amount):
        raise BadRequestError("WeCom plaintext has invalid PKCS#7 padding")
    return data[:-amount]


def _split(plain: bytes) -> tuple[bytes, bytes]:
    if len(plain) < _HEADER:
        raise BadRequestError("WeCom plaintext is shorter than its header")
    (length,) = struct.unpack(">I", plain[16:_HEADER])
    if _HEADER + length > len(plain):
        raise BadRequestError("WeCom plaintext length field exceeds the message")
    return plain[_HEADER:_HEADER + length], plain[_HEADER + length:]
