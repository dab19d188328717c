"""Console API of issue 17: correct a support item, publish or hide it."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console.cookies import Ctx
from adapters.console.auth import Refused, done, endpoint
from bot.accounts import STAFF
from bot.support import FIELDS, OPS, STATES, Condition



def _number(body: dict[str, Any], key: str) -> float | None:
    value = str(body.get(key, "")).strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise Refused(400, "error_invalid", key) from None


def parse_conditions(text: str) -> tuple[Condition, ...]:
    """"field op value" lines (value "a,b" for `in`); a line that is not one is refused."""
    out = []
    for line in (ln.strip() for ln in text.splitlines() if ln.strip()):
        parts = line.split(None, 2)
        if len(parts) != 3 or parts[0] not in (*FIELDS, "age") or parts[1] not in OPS:
            raise Refused(400, "error_invalid", line[:60])
        name, op, raw = parts
        if op == "in":
            value: object = [v.strip() for v in raw.split(",") if v.strip()]
        elif op in ("has", "==") and name in ("certifications", "district", "company_type"):
            value = raw
        else:
            try:
                value = float(raw)
            except ValueError:
                raise Refused(400, "error_invalid", line[:60]) from None
        out.append(Condition(name, op, value, line))
    return tuple(out)


def _item_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise Refused(404, "error_not_found")
    return int(raw)


@endpoint(*STAFF)
async def update_item(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    item_id, body = _item_id(request), ctx.body
    item = await console.data.support.get(item_id)
    if item is None:
        raise Refused(404, "error_not_found")
    state = str(body.get("state", item.state))
    if state not in STATES:
        raise Refused(400, "error_invalid", "state")
    changes: dict[str, Any] = {"what": str(body.get("what", item.what)).strip()[:200] or item.what,
               "amount": _number(body, "amount"), "ratio": _number(body, "ratio"), "cap": _number(body, "cap"),
               "district": str(body.get("district", item.district)).strip()[:32], "state": state}
    if "conditions" in body:
        changes["conditions"] = parse_conditions(str(body["conditions"]))
    await console.data.support.update(item_id, item.corrected(**changes))
    await console.data.audit.record(ctx.account, "support_update", f"support:{item_id}", ctx.ip, state=state)
    return done(console, request, ctx, {"ok": True}, default="/console/support")


@endpoint(*STAFF)
async def set_state(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    item_id, state = _item_id(request), str(ctx.body.get("state", ""))
    if state not in STATES:
        raise Refused(400, "error_invalid", "state")
    if not await console.data.support.set_state(item_id, state):
        raise Refused(404, "error_not_found")
    await console.data.audit.record(ctx.account, "support_state", f"support:{item_id}", ctx.ip, state=state)
    return done(console, request, ctx, {"ok": True, "state": state}, default="/console/support")
