"""Storage: SQLAlchemy async over SQLite (default) or PostgreSQL, schema managed by Alembic."""
from bot.store.records import ChunkRecord, DocumentRecord, StoredMessage
from bot.store.store import Store
from bot.store.tickets import ManagerRecord, TicketEvent, TicketRecord

__all__ = ["Store", "DocumentRecord", "ChunkRecord", "StoredMessage", "TicketRecord", "TicketEvent", "ManagerRecord"]
