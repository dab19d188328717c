"""`qdbot`: the command line (ingest, ask, chat, eval, db, serve)."""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.errors import QdbotError
from bot.settings import Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qdbot", description="Qingdao innovation-policy assistant")
    sub = p.add_subparsers(dest="command", required=True)
    ing = sub.add_parser("ingest", help="ingest documents (files or folders) into the knowledge base")
    ing.add_argument("paths", nargs="*", type=Path, help="default: the bundled documents")
    ing.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    ing.add_argument("--quiet", action="store_true", help="no progress bar")
    ing.add_argument("--verbose", action="store_true",
                     help="print what was read from each parsed document (title, issuer, region, 文号, dates)")
    ask = sub.add_parser("ask", help="answer one question (or one per stdin line with --json)")
    ask.add_argument("question", nargs="?")
    ask.add_argument("--json", action="store_true", help="JSON output; without QUESTION read stdin lines")
    sub.add_parser("chat", help="interactive multi-turn chat in the terminal")
    ev = sub.add_parser("eval", help="run an evaluation file (../shared/eval format)")
    ev.add_argument("file", type=Path)
    ev.add_argument("--min", type=float, default=None, help="exit non-zero below this pass rate (0..1)")
    ev.add_argument("--json", action="store_true", help="print per-question results as JSON lines")
    sv = sub.add_parser("serve", help="run the web chat, console and every configured channel")
    sv.add_argument("--host", default=None, help="override QDBOT_HOST")
    sv.add_argument("--port", type=int, default=None, help="override QDBOT_PORT")
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    from bot import admin_cli

    admin_cli.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        from bot.logs import configure

        level = settings.qdbot_log_level
        if args.command == "chat" and level.upper() in ("DEBUG", "INFO"):
            level = "WARNING"  # an interactive session: answers, not a log line before each of them
        configure(level, settings.qdbot_log_format)
        return asyncio.run(_run(args, settings))
    except QdbotError as exc:
        print(f"qdbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot import admin_cli, commands

    handler = {"ingest": commands.ingest, "ask": commands.ask, "chat": commands.chat,
               "eval": commands.evaluate, "db": commands.db, "serve": commands.serve,
               "admin": admin_cli.run}[args.command]
    return await handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
