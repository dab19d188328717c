"""Page: the support items of every document (review, correct, publish) and the match statistics
(issue 17): which items users qualify for most, which conditions near misses fail on most."""
from __future__ import annotations


from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console.cookies import Ctx
from adapters.console.auth import endpoint
from adapters.console.charts import bar_list
from adapters.console.html import badge, e, field, form, page, select, table
from bot.accounts import STAFF
from bot.eligibility_render import condition_text, number, say, support_text
from bot.support import DRAFT, HIDDEN, PUBLISHED, STATES, SupportItem


_KIND = {PUBLISHED: "ok", DRAFT: "", HIDDEN: "muted"}
NEXT = "/console/support"


def conditions_source(item: SupportItem) -> str:
    """The conditions as the edit form shows them: one "field op value" per line."""
    return "\n".join(f"{c.field} {c.op} {','.join(c.value) if isinstance(c.value, list) else number(c.value)}"
                     for c in item.conditions)


def _state_buttons(ctx: Ctx, item: SupportItem) -> str:
    lang, out = ctx.lang, []
    for state, key, cls in ((PUBLISHED, "console_publish", "primary"), (DRAFT, "console_unpublish", ""),
                            (HIDDEN, "console_hide", "danger")):
        if item.state != state:
            out.append(form(ctx, f"/api/admin/support/{item.id}/state",
                            f'<input type="hidden" name="state" value="{state}">'
                            f'<button class="{cls}">{e(say(lang, key))}</button>', next_=NEXT, cls="inline"))
    return "".join(out)


def _edit_form(ctx: Ctx, item: SupportItem) -> str:
    lang = ctx.lang

    def num(name: str, value: float | None) -> str:
        return f'<input name="{name}" value="{e("" if value is None else number(value))}" size="6">'

    inner = (field(say(lang, "console_what"), f'<input name="what" value="{e(item.what)}" maxlength="200">')
             + field(say(lang, "console_amount"), num("amount", item.amount))
             + field(say(lang, "console_ratio"), num("ratio", item.ratio))
             + field(say(lang, "console_cap"), num("cap", item.cap))
             + field(say(lang, "console_district"), f'<input name="district" value="{e(item.district)}" size="8">')
             + field(say(lang, "console_conditions_help"),
                     f'<textarea name="conditions" rows="4">{e(conditions_source(item))}</textarea>')
             + field(say(lang, "console_state"), select("state", [(s, say(lang, "state_" + s)) for s in STATES],
                                                        item.state))
             + f'<button>{e(say(lang, "console_save"))}</button>')
    return (f'<details><summary>{e(say(lang, "console_edit"))}</summary>'
            + form(ctx, f"/api/admin/support/{item.id}", inner, next_=NEXT, cls="stack") + "</details>")


def _row(ctx: Ctx, item: SupportItem) -> list[str]:
    lang = ctx.lang
    conds = "".join(f"<li>{e(condition_text(c, lang))}</li>" for c in item.conditions)
    return [e(item.what), f"<ul>{conds}</ul>" if conds else e(say(lang, "console_none")),
            e(support_text(item, lang)), f'<div class="snippet">{e(item.clause)}</div>',
            badge(say(lang, "origin_" + item.origin), "ok" if item.origin == "operator" else ""),
            badge(say(lang, "state_" + item.state), _KIND.get(item.state, "")) + _state_buttons(ctx, item),
            _edit_form(ctx, item)]


async def _stats(console: ConsoleContext, lang: str) -> str:
    stats = await console.data.support.stats()
    profiles = await console.data.support.profiles_count()
    head = f'<p>{e(say(lang, "console_matches", matches=stats.matches, profiles=profiles))}</p>'
    if not stats.matches:
        return f'<section id="stats"><h2>{e(say(lang, "console_stats"))}</h2>{head}<p class="empty">' \
               f'{e(say(lang, "console_no_stats"))}</p></section>'
    top = [(f"{i.what[:9]}", n) for i, n in stats.eligible[:10]]
    failed = [(say(lang, "field_" + f), n) for f, n in stats.failed[:10]]
    return (f'<section id="stats"><h2>{e(say(lang, "console_stats"))}</h2>{head}'
            f'<h3>{e(say(lang, "console_top_eligible"))}</h3>{bar_list(top, say(lang, "console_top_eligible"))}'
            f'<h3>{e(say(lang, "console_top_failed"))}</h3>{bar_list(failed, say(lang, "console_top_failed"))}'
            "</section>")


@endpoint(*STAFF, page=True)
async def support_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    lang = ctx.lang
    items = await console.data.support.items()
    by_doc: dict[str, list[SupportItem]] = {}
    for item in items:
        by_doc.setdefault(item.title or item.doc_id, []).append(item)
    heads = [say(lang, k) for k in ("console_what", "console_conditions", "console_support", "console_clause",
                                    "console_origin", "console_state")] + [""]
    docs = "".join(f'<section class="doc"><h3>《{e(title)}》</h3>'
                   + table(heads, [_row(ctx, i) for i in group]) + "</section>" for title, group in by_doc.items())
    body = (await _stats(console, lang) + f'<section id="items"><h2>{e(say(lang, "console_items"))}</h2>'
            + (docs or f'<p class="empty">{e(say(lang, "console_no_items"))}</p>') + "</section>")
    return page(console, request, ctx, say(lang, "console_title"), body, "support")
