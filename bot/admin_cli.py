"""`qdbot admin`: console accounts and API tokens from the command line.

    qdbot admin create --username U --role admin [--manager-id M] [--password-stdin]
    qdbot admin create --username U --role manager --manager-id M [--manager-name N] [--working-hours H]
    qdbot admin token --username U [--name PURPOSE] [--scope full|read] [--days N]
    qdbot admin tokens [--username U]
    qdbot admin revoke-token ID
    qdbot admin list
    qdbot admin password --username U [--password-stdin]
    qdbot admin deactivate --username U          (ends its sessions, revokes its tokens)

Without --password-stdin the password is asked twice without echo. The first admin is made this way;
later accounts can be made in the console. `bot.cli` adds the parser (`add_parser`) and runs `run`.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from bot.accounts import ROLES, TOKEN_SCOPES, Accounts
from bot.errors import BadRequestError, ConfigError
from bot.settings import Settings
from bot.handoff.roster import parse_hours
from bot.store import Store
from bot.records import ManagerRecord
from bot.types import utcnow


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = sub.add_parser("admin", help="console accounts and API tokens")
    actions = admin.add_subparsers(dest="admin_command", required=True)
    create = actions.add_parser("create", help="create a console account (the first admin, too)")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--manager-id", default=None, help="roster id of the technology manager (role manager)")
    create.add_argument("--manager-name", default=None,
                        help="role manager: also add the roster entry (id --manager-id) with this display name")
    create.add_argument("--working-hours", default="",
                        help='with --manager-name: e.g. "mon-fri 09:00-17:30" (empty: always on duty)')
    create.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    token = actions.add_parser("token", help="issue an API token (printed once; only its hash is stored)")
    token.add_argument("--username", required=True)
    token.add_argument("--name", default="", help="what the token is for")
    token.add_argument("--scope", default="full", choices=TOKEN_SCOPES, help="read: GET requests only")
    token.add_argument("--days", type=float, default=90.0, help="days until it expires (default 90; 0: never)")
    tokens = actions.add_parser("tokens", help="list API tokens (never the tokens themselves)")
    tokens.add_argument("--username", default=None)
    revoke = actions.add_parser("revoke-token", help="revoke an API token by its id (see `tokens`)")
    revoke.add_argument("token_id", type=int)
    deactivate = actions.add_parser("deactivate", help="deactivate an account (sessions end, tokens revoked)")
    deactivate.add_argument("--username", required=True)
    actions.add_parser("list", help="list the console accounts")
    password = actions.add_parser("password", help="set a new password (ends the account's sessions)")
    password.add_argument("--username", required=True)
    password.add_argument("--password-stdin", action="store_true")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise BadRequestError("the two passwords differ")
    return first


async def run(args: argparse.Namespace, settings: Settings) -> int:
    settings.ensure_data_dir()
    store = await Store.open(settings.db_url)
    try:
        accounts = Accounts(store, settings.secret_key())
        return await _dispatch(args, store, accounts)
    except (BadRequestError, ConfigError) as exc:
        print(f"qdbot admin: {exc}", file=sys.stderr)
        return 2
    finally:
        await store.close()


NO_ROSTER_ENTRY = """a manager account acts as a technology manager of the roster, and {id!r} is not on it.
Either add it to the roster file and restart (or run this again after a start):
  1. put this in a YAML file, e.g. /etc/qdbot/roster.yaml:
       - id: {id}
         name: 张工
         working_hours: mon-fri 09:00-12:00,13:30-17:30
  2. set HANDOFF_ROSTER_FILE=/etc/qdbot/roster.yaml (in .env) and restart `qdbot serve` (it reads the roster
     at every start), then run this command again
or let this command add the entry: add --manager-name 张工 [--working-hours "mon-fri 09:00-17:30"]"""


async def _roster_entry(args: argparse.Namespace, store: Store) -> None:
    """Role manager: the roster entry must exist; --manager-name creates (or renames) it."""
    if args.role != "manager":
        return
    if not args.manager_id:
        raise BadRequestError("a manager account needs --manager-id (its id on the roster of technology managers)")
    if args.manager_name:
        parse_hours(args.working_hours)
        await store.tickets.upsert_manager(ManagerRecord(args.manager_id, args.manager_name,
                                                         working_hours=args.working_hours))
        print(f"roster entry {args.manager_id} ({args.manager_name}) saved")
    elif await store.tickets.manager(args.manager_id) is None:
        raise BadRequestError(NO_ROSTER_ENTRY.format(id=args.manager_id))


async def _dispatch(args: argparse.Namespace, store: Store, accounts: Accounts) -> int:
    command = args.admin_command
    if command == "list":
        for a in await store.console.accounts():
            print(f"{a.username}\t{a.role}\t{a.manager_id or '-'}\t{'active' if a.active else 'inactive'}")
        return 0
    if command in ("tokens", "revoke-token"):
        return await _tokens(args, store)
    if command == "create":
        await _roster_entry(args, store)
        created = await accounts.create(args.username, args.role, _password(args.password_stdin), args.manager_id)
        await store.console.audit(None, "account_create", f"account:{created.id}", "cli", username=created.username,
                                  role=created.role)
        print(f"created {created.role} {created.username}")
        return 0
    account = await store.console.account_by_name(args.username)
    if account is None:
        raise BadRequestError(f"no account named {args.username!r}")
    if command == "token":
        raw = await accounts.issue_token(account, args.name, args.scope, args.days)
        await store.console.audit(None, "token_issue", f"account:{account.id}", "cli", name=args.name,
                                  scope=args.scope, days=args.days)
        print(raw)
        return 0
    if command == "deactivate":
        await accounts.update(account.id, active=False)
        await store.console.audit(None, "account_update", f"account:{account.id}", "cli", fields=["active"],
                                  old={"active": account.active}, new={"active": False})
        print(f"deactivated {account.username}")
        return 0
    if command == "password":
        await accounts.update(account.id, password=_password(args.password_stdin))
        await store.console.audit(None, "account_update", f"account:{account.id}", "cli", fields=["password"])
        print(f"password changed for {account.username}")
        return 0
    raise ConfigError(f"unknown admin command {command!r}")


async def _tokens(args: argparse.Namespace, store: Store) -> int:
    """`tokens`: one line per token (id, account, name, scope, expiry, last use, state); `revoke-token ID`."""
    names = {a.id: a.username for a in await store.console.accounts()}
    if args.admin_command == "revoke-token":
        token = await store.console.token(args.token_id)
        if token is None:
            raise BadRequestError(f"no API token with id {args.token_id}")
        await store.console.revoke_token(token.id)
        await store.console.audit(None, "token_revoke", f"token:{token.id}", "cli", account_id=token.account_id,
                                  name=token.name)
        print(f"revoked token {token.id} ({names.get(token.account_id, '?')} {token.name or '-'})")
        return 0
    account = await store.console.account_by_name(args.username) if args.username else None
    if args.username and account is None:
        raise BadRequestError(f"no account named {args.username!r}")
    now = utcnow()
    for tk in await store.console.tokens(account.id if account else None):
        state = "revoked" if tk.revoked else ("valid" if tk.valid(now) else "expired")
        print(f"{tk.id}\t{names.get(tk.account_id, '?')}\t{tk.name or '-'}\t{tk.scope}\t"
              f"{tk.expires_at.isoformat() if tk.expires_at else 'never'}\t"
              f"{tk.last_used_at.isoformat() if tk.last_used_at else '-'}\t{state}")
    return 0
