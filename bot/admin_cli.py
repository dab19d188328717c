"""`qdbot admin`: console accounts and API tokens from the command line.

    qdbot admin create --username U --role admin [--manager-id M] [--password-stdin]
    qdbot admin create --username U --role manager --manager-id M [--manager-name N] [--working-hours H]
    qdbot admin token --username U [--name PURPOSE]
    qdbot admin list
    qdbot admin password --username U [--password-stdin]

Without --password-stdin the password is asked twice without echo. The first admin is made this way;
later accounts can be made in the console. `bot.cli` adds the parser (`add_parser`) and runs `run`.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from bot.accounts import ROLES, Accounts
from bot.errors import BadRequestError, ConfigError
from bot.settings import Settings
from bot.handoff.roster import parse_hours
from bot.store import ManagerRecord, Store


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    if command == "create":
        await _roster_entry(args, store)
        account = await accounts.create(args.username, args.role, _password(args.password_stdin), args.manager_id)
        await store.console.audit(None, "account_create", f"account:{account.id}", "cli", username=account.username,
                                  role=account.role)
        print(f"created {account.role} {account.username}")
        return 0
    account = await store.console.account_by_name(args.username)
    if account is None:
        raise BadRequestError(f"no account named {args.username!r}")
    if command == "token":
        raw = await accounts.issue_token(account, args.name)
        await store.console.audit(None, "token_issue", f"account:{account.id}", "cli", name=args.name)
        print(raw)
        return 0
    if command == "password":
        await accounts.update(account.id, password=_password(args.password_stdin))
        await store.console.audit(None, "account_update", f"account:{account.id}", "cli", fields=["password"])
        print(f"password changed for {account.username}")
        return 0
    raise ConfigError(f"unknown admin command {command!r}")
