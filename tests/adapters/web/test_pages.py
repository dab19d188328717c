"""The web chat's page, assets, UI sentences and the signed standalone answer page."""
from __future__ import annotations

import tomllib

import pytest

import prompts
from bot import links
from tests.adapters.web.conftest import QUESTION

ATTACK = "<i>"


async def test_the_page_and_its_assets_are_served_by_the_app_with_a_strict_csp(lite):
    page = await lite.client.get("/")
    html = await page.text()
    assert page.status == 200 and page.content_type == "text/html"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert '/static/app.js' in html and '/static/style.css' in html and "://" not in html  # no CDN
    for name, ctype in (("app.js", "text/javascript"), ("style.css", "text/css")):
        asset = await lite.client.get(f"/static/{name}")
        assert (asset.status, asset.content_type) == (200, ctype) and asset.headers["ETag"]
        again = await lite.client.get(f"/static/{name}", headers={"If-None-Match": asset.headers["ETag"]})
        assert again.status == 304


async def test_the_stylesheet_imports_the_shared_palette_which_the_chat_serves(lite):
    css = await (await lite.client.get("/static/style.css")).text()
    assert css.count('@import url("palette.css")') == 1 and "--blue:" not in css  # the colours live in the palette
    palette = await lite.client.get("/static/palette.css")
    assert (palette.status, palette.content_type) == (200, "text/css") and palette.headers["ETag"]
    assert "--blue: #0b5cad;" in await palette.text()
    assert "nosniff" in palette.headers["X-Content-Type-Options"]


@pytest.mark.parametrize("name", ["nope.js", "..%2Fchannel.py", "%2e%2e%2F__init__.py"])
async def test_only_the_pages_own_assets_are_served(lite, name):
    assert (await lite.client.get(f"/static/{name}")).status == 404


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_ui_sentences_come_from_the_prompt_files(lite, lang):
    data = await (await lite.client.get("/api/ui", params={"lang": lang})).json()
    with (prompts.HERE / lang / "web.toml").open("rb") as fh:
        assert data["strings"] == tomllib.load(fh)
    assert data["lang"] == lang and data["max_chars"] == 2000


def test_chinese_and_english_ui_files_have_the_same_keys():
    keys = [set(tomllib.loads((prompts.HERE / lang / "web.toml").read_text("utf-8"))) for lang in ("zh", "en")]
    assert keys[0] == keys[1]


def _swap_mac(token: str, other: str) -> str:
    """The payload of one token with the signature of another."""
    return token.split(".")[0] + "." + other.split(".")[1]


async def _answer(webchat, text: str = QUESTION) -> dict:
    return await webchat.chat(text)


async def test_a_signed_link_shows_the_answer_its_question_and_full_citations(webchat, settings):
    data = await _answer(webchat, ATTACK + QUESTION)
    token = links.sign(settings.secret_key(), "answer", data["message_id"])
    page = await webchat.client.get(f"/answer/{token}")
    html = await page.text()
    assert page.status == 200 and "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "&lt;i&gt;" + QUESTION in html and ATTACK + QUESTION not in html
    assert data["sources"][0]["text"] in html and 'href="#source-1"' in html and 'id="source-1"' in html
    assert "政策助手的回答" in html


@pytest.mark.parametrize("case", ["expired", "altered", "other_kind", "question_not_answer", "garbage"])
async def test_an_expired_altered_or_foreign_link_is_a_404_page(webchat, settings, case):
    data = await _answer(webchat)
    key = settings.secret_key()
    token = {
        "expired": lambda: links.sign(key, "answer", data["message_id"], ttl_seconds=-1),
        "altered": lambda: _swap_mac(links.sign(key, "answer", data["message_id"]), links.sign(key, "answer", 1)),
        "other_kind": lambda: links.sign(key, "ticket", data["message_id"]),
        "question_not_answer": lambda: links.sign(key, "answer", data["question_id"]),
        "garbage": lambda: "not-a-token",
    }[case]()
    page = await webchat.client.get(f"/answer/{token}")
    assert page.status == 404 and "链接无效或已过期" in await page.text()
