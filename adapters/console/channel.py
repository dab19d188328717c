"""The console as a channel of the one aiohttp server: its routes, and a staff channel of the handoff
desk (every ticket event is pushed to the browsers watching the queue, as server-sent events).

Console users are not chat users: `send` delivers nothing. The routes' table is below; every route
under /api/admin/ is described in `openapi.py` (a test keeps the two equal).
"""
from __future__ import annotations

import functools
from zoneinfo import ZoneInfo

from aiohttp import web

from adapters.console import (
    api_admin, api_calendar, api_conversations, api_gaps, api_kb, api_support, api_tickets, pages_admin,
    pages_calendar, pages_conversations, pages_gaps, pages_kb, pages_support, pages_tickets, static,
)
from adapters.console.context import TICKETS_CHANNEL, TicketHub
from adapters.console.settings import ConsoleSettings
from bot.engine import Engine
from bot.handoff import StaffEvent
from bot.ports import InboundHandler
from bot.settings import Settings
from bot.types import Reply

API = "/api/admin"
ROUTES = [
    ("GET", f"{API}/openapi.json", api_admin.openapi),
    ("POST", f"{API}/login", api_admin.login),
    ("POST", f"{API}/logout", api_admin.logout),
    ("GET", f"{API}/me", api_admin.me),
    ("GET", f"{API}/dashboard", api_admin.dashboard),
    ("GET", f"{API}/accounts", api_admin.list_accounts),
    ("POST", f"{API}/accounts", api_admin.create_account),
    ("POST", f"{API}/accounts/{{id}}", api_admin.update_account),
    ("POST", f"{API}/accounts/{{id}}/tokens", api_admin.issue_token),
    ("GET", f"{API}/tokens", api_admin.list_tokens),
    ("POST", f"{API}/tokens/{{id}}/revoke", api_admin.revoke_token),
    ("GET", f"{API}/audit", api_admin.audit),
    ("GET", f"{API}/conversations", api_conversations.list_conversations),
    ("GET", f"{API}/conversations/{{id}}", api_conversations.get_conversation),
    ("GET", f"{API}/export", api_conversations.export),
    ("GET", f"{API}/tickets", api_tickets.list_tickets),
    ("GET", f"{API}/tickets/events", api_tickets.events),
    ("GET", f"{API}/tickets/{{id}}", api_tickets.get_ticket),
    *(("POST", f"{API}/tickets/{{id}}/{name}", handler) for name, handler in api_tickets.ACTIONS.items()),
    ("GET", f"{API}/managers", api_tickets.managers),
    ("GET", f"{API}/documents", api_kb.list_documents),
    ("POST", f"{API}/documents", api_kb.upload),
    ("POST", f"{API}/documents/{{id}}/replace", api_kb.replace),
    ("POST", f"{API}/documents/{{id}}/reingest", api_kb.reingest),
    ("POST", f"{API}/documents/{{id}}/delete", api_kb.delete),
    ("POST", f"{API}/documents/{{id}}/identity", api_kb.identity),
    ("GET", f"{API}/documents/{{id}}/chunks", api_kb.list_chunks),
    ("POST", f"{API}/try", api_kb.try_question),
    ("POST", f"{API}/documents/{{id}}/status", api_calendar.set_status),
    ("POST", f"{API}/calendar/{{id}}", api_calendar.update_entry),
    ("POST", f"{API}/notices/pause", api_calendar.pause_notices),
    ("POST", f"{API}/support/{{id}}", api_support.update_item),
    ("POST", f"{API}/support/{{id}}/state", api_support.set_state),
    ("GET", f"{API}/gaps", api_gaps.gaps),
    ("POST", f"{API}/gaps/dismiss", api_gaps.dismiss_gaps),
    ("POST", f"{API}/gaps/reopen", api_gaps.reopen_gaps),
    ("GET", f"{API}/curated", api_gaps.list_curated),
    ("POST", f"{API}/curated", api_gaps.create_curated),
    ("POST", f"{API}/curated/{{id}}", api_gaps.update_curated),
    ("POST", f"{API}/curated/{{id}}/retire", api_gaps.retire_curated),
    ("GET", "/console", pages_admin.home),
    ("GET", "/console/login", pages_admin.login_page),
    ("GET", "/console/dashboard", pages_admin.dashboard_page),
    ("GET", "/console/accounts", pages_admin.accounts_page),
    ("GET", "/console/audit", pages_admin.audit_page),
    ("GET", "/console/conversations", pages_conversations.list_page),
    ("GET", "/console/conversations/{id}", pages_conversations.transcript_page),
    ("GET", "/console/tickets", pages_tickets.queue_page),
    ("GET", "/console/tickets/{id}", pages_tickets.ticket_page),
    ("GET", "/console/kb", pages_kb.kb_page),
    ("GET", "/console/kb/{id}", pages_kb.chunks_page),
    ("GET", "/console/calendar", pages_calendar.calendar_page),
    ("GET", "/console/support", pages_support.support_page),
    ("GET", "/console/gaps", pages_gaps.gaps_page),
    ("GET", "/console/curated", pages_gaps.curated_page),
    ("GET", "/console/static/{name}", static.asset),
]






class ConsoleChannel:
    name = "console"

    def __init__(self, engine: Engine, settings: Settings, config: ConsoleSettings):
        self.engine, self.settings, self.config = engine, settings, config
        self.data, self.desk = engine.console_ports(), engine.staff
        self.tz = ZoneInfo(settings.handoff_timezone)
        self.hub = TicketHub()
        self.accounts = self.data.accounts.service(
            self.secret, session_hours=config.console_session_hours, max_failures=config.console_login_max_failures,
            max_ip_failures=config.console_login_max_ip_failures, window_minutes=config.console_login_window_minutes,
            backoff_seconds=config.console_login_backoff_seconds, token_days=config.console_token_days)

    @functools.cached_property
    def secret(self) -> bytes:
        return self.settings.secret_key()

    def routes(self) -> list[web.RouteDef]:
        return [web.route(method, path, functools.partial(handler, self)) for method, path, handler in ROUTES]

    async def start(self, handler: InboundHandler) -> None:
        """Hear the ticket changes made in other workers, for the browsers watching this one."""
        self.data.tickets.listen(TICKETS_CHANNEL, self.hub.publish)

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Console users are staff, not chat users: nothing is delivered here."""
        return None

    async def stop(self) -> None:
        self.hub.publish(None)  # ends every open event stream

    async def on_ticket_event(self, event: StaffEvent) -> None:
        """Tell the browsers watching the queue which ticket changed (no personal data: they refetch),
        here and, through the database, in every other worker."""
        item = {"kind": event.kind, "ticket_id": event.ticket.id, "state": event.ticket.state}
        self.hub.publish(item)
        await self.data.tickets.announce(TICKETS_CHANNEL, item)
