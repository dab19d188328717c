"""Hardened parsing and building of the small flat XML documents WeCom exchanges.

Parsing goes through ``defusedxml`` (no DTDs, no entities, no external references) behind a
size limit, and turns ``<xml><Tag>text</Tag>...</xml>`` into a plain ``{"Tag": "text"}`` dict.
Text with and without CDATA parses alike. Anything else is a ``BadRequestError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

from bot.errors import BadRequestError

MAX_XML_BYTES = 64 * 1024
MAX_XML_DEPTH = 16  # WeCom's deepest documented field: SendPicsInfo > PicList > item > PicMd5Sum (4)
_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
# Characters XML 1.0 cannot carry, even inside CDATA.
_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def parse_xml(data: bytes | str, *, max_bytes: int = MAX_XML_BYTES) -> dict[str, str]:
    """Parse a WeCom ``<xml>`` document into ``{tag: text}``.

    Nested elements are flattened to dotted keys (``ScanCodeInfo.ScanResult``); when a tag
    repeats, the first occurrence wins. Raises ``BadRequestError`` for an oversized, malformed
    or dangerous document, one nested deeper than ``MAX_XML_DEPTH``, or one whose root is not
    ``<xml>``.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise BadRequestError(f"XML body of {len(raw)} bytes exceeds the {max_bytes}-byte limit")
    root = _parse_root(raw)
    if root.tag != "xml":
        raise BadRequestError(f"XML root is <{root.tag}>, expected <xml>")
    fields: dict[str, str] = {}
    _flatten(root, "", fields)
    return fields


def _parse_root(raw: bytes) -> Element:
    try:
        root: Element = safe_et.fromstring(raw, forbid_dtd=True)
        return root
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise BadRequestError(f"malformed or forbidden XML: {exc}") from exc


def _flatten(element: Element, prefix: str, fields: dict[str, str], depth: int = 1) -> None:
    for child in element:
        key = f"{prefix}{child.tag}"
        if len(child):
            if depth >= MAX_XML_DEPTH:
                raise BadRequestError(f"XML nested deeper than {MAX_XML_DEPTH} levels")
            _flatten(child, f"{key}.", fields, depth + 1)
        else:
            fields.setdefault(key, child.text or "")


def build_xml(fields: Mapping[str, str | int]) -> str:
    """Build ``<xml>...</xml>``: strings as CDATA, integers as bare text.

    Raises ``ValueError`` for a tag that is not a plain XML name or text XML cannot carry.
    """
    return "<xml>" + "".join(_element(tag, value) for tag, value in fields.items()) + "</xml>"


def _element(tag: str, value: str | int) -> str:
    if not _TAG.match(tag):
        raise ValueError(f"not a plain XML tag name: {tag!r}")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"<{tag}> value must be str or int, not {type(value).__name__}")
    if isinstance(value, int):
        return f"<{tag}>{value}</{tag}>"
    return f"<{tag}>{cdata(value)}</{tag}>"


def cdata(text: str) -> str:
    """Wrap ``text`` in CDATA, splitting any ``]]>`` so the section cannot be closed early."""
    if _INVALID_CHARS.search(text):
        raise ValueError("text contains characters that XML 1.0 cannot carry")
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"
