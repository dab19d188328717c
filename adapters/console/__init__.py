"""The operator console: server-rendered pages under /console on a JSON API under /api/admin/.

Modules: `settings`, `i18n` (console.toml), `auth` (who calls, roles, CSRF, flash messages), `views`
(records -> JSON, masked), `filters`, `api_*` (the API by area), `openapi` (its description),
`html`/`charts`/`pages_*` (the pages), `static`, `channel` (routes, staff channel of the handoff desk).
"""
from __future__ import annotations

from adapters.console.channel import ConsoleChannel
from adapters.console.settings import ConsoleSettings, load_console_settings
from bot.engine import Engine
from bot.settings import Settings

__all__ = ["ConsoleChannel", "ConsoleSettings", "create"]


def create(engine: Engine, settings: Settings, console: ConsoleSettings | None = None) -> ConsoleChannel | None:
    """The console (always on unless CONSOLE_ENABLED=false); sign in with an account from `qdbot admin create`."""
    config = console or load_console_settings()
    if not config.console_enabled:
        return None
    return ConsoleChannel(engine, settings, config)
