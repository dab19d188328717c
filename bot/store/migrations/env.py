"""Alembic environment: runs on a connection handed over by `bot.store.migrate`."""
from __future__ import annotations

from alembic import context

from bot.store.models import Base

target_metadata = Base.metadata


def _include(obj, name, type_, reflected, compare_to) -> bool:
    """Leave the console's keyword-search index to migration 0004: an FTS5 table (SQLite) and a
    pg_trgm index (PostgreSQL) that no model describes."""
    if type_ == "table" and reflected and name.startswith("messages_fts"):
        return False
    return not (type_ == "index" and name == "ix_messages_text_trgm")


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_include,
    )
    with context.begin_transaction():
        context.run_migrations()


def _offline() -> None:
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _offline()
else:
    _run(context.config.attributes["connection"])
