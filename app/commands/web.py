"""`lore app` (the Streamlit staff app) and `lore users add|list|remove` (its users file)."""

from __future__ import annotations

import getpass
import math
import os
import sys
from pathlib import Path

from app.cli import Context
from retrieval.errors import InputError

STREAMLIT_SCRIPT = Path(__file__).resolve().parents[1] / "streamlit_app.py"


def register(sub, common) -> None:
    app = sub.add_parser("app", parents=[common], help="start the staff web app (Streamlit)")
    app.add_argument("--host", help="address to listen on (default: app.host, 127.0.0.1)")
    app.add_argument("--port", type=int, help="port to listen on (default: app.port, 8501)")
    app.set_defaults(func=run_app, overrides=lambda a: {"app.host": a.host, "app.port": a.port})

    users = sub.add_parser("users", help="manage the app's users file (user names, groups, passwords)")
    actions = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", parents=[common], help="create a user or change their groups/password")
    add.add_argument("user")
    add.add_argument("--groups", required=True, help="comma-separated groups, e.g. all-staff,finance")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin (first line) instead of prompting")
    add.add_argument("--no-password", action="store_true", help="keep the current password (or none: for OIDC/proxy users' groups)")
    add.set_defaults(func=add_user)
    listing = actions.add_parser("list", parents=[common], help="list users and their groups")
    listing.set_defaults(func=list_users)
    remove = actions.add_parser("remove", parents=[common], help="delete a user")
    remove.add_argument("user")
    remove.set_defaults(func=remove_user)


def streamlit_command(ctx: Context) -> list[str]:
    app = ctx.settings.app
    return [
        sys.executable, "-m", "streamlit", "run", str(STREAMLIT_SCRIPT),
        "--server.address", app.host,
        "--server.port", str(app.port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--server.maxUploadSize", str(max(1, math.ceil(app.upload_max_mb))),
        "--browser.gatherUsageStats", "false",
        "--client.showErrorDetails", "none",
        "--client.toolbarMode", "minimal",
        "--global.developmentMode", "false",
    ]  # fmt: skip


def streamlit_env(ctx: Context) -> dict[str, str]:
    """The app loads its settings from the environment: hand over what the flags chose."""
    env = dict(os.environ)
    env["LORE_HOME"] = str(ctx.settings.home)
    env["LORE_PROFILE"] = ctx.settings.profile
    env["LORE_APP__HOST"] = ctx.settings.app.host
    env["LORE_APP__PORT"] = str(ctx.settings.app.port)
    if ctx.args.config:
        env["LORE_CONFIG"] = str(Path(ctx.args.config).expanduser().resolve())
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    return env


def run_app(ctx: Context) -> int:
    app = ctx.settings.app
    if app.auth == "users_file" and not app.allow_anonymous and not _users(ctx).load():
        ctx.info(f"note: {ctx.settings.users_path} has no users yet: create one with `lore users add NAME --groups admin,all-staff`")
    ctx.info(f"Lore app on http://{app.host}:{app.port} (Ctrl+C stops it)")
    command = streamlit_command(ctx)
    # Become the Streamlit server (no child left behind): signals from a service manager or a
    # test harness reach it directly.
    os.execve(command[0], command, streamlit_env(ctx))
    return 0  # pragma: no cover - execve does not return


def _users(ctx: Context):
    from app.auth import UsersFile

    return UsersFile(ctx.settings.users_path)


def _read_password(ctx: Context) -> str | None:
    if ctx.args.no_password:
        return None
    if ctx.args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise InputError("no terminal to ask for the password: pass --password-stdin and pipe it in")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat the password: ") != password:
            raise InputError("the passwords differ: run the command again")
    if not password:
        raise InputError("empty password: give one, or pass --no-password to keep the current one")
    return password


def add_user(ctx: Context) -> int:
    from app.auth import parse_groups

    groups = parse_groups(ctx.args.groups)
    if not groups:
        raise InputError("no groups given: pass --groups g1,g2 (e.g. all-staff)")
    record = _users(ctx).add(ctx.args.user, groups, _read_password(ctx))
    doc = {"user": record.user, "groups": list(record.groups), "password": bool(record.password_hash), "file": str(ctx.settings.users_path)}
    ctx.emit(doc, f"{record.user}: groups {', '.join(record.groups)} (saved in {ctx.settings.users_path})")
    return 0


def list_users(ctx: Context) -> int:
    records = _users(ctx).load()
    doc = {"users": [{"user": r.user, "groups": list(r.groups), "password": bool(r.password_hash)} for r in records.values()]}
    lines = [f"{r.user}\t{','.join(r.groups)}" for r in records.values()] or [f"(no users in {ctx.settings.users_path})"]
    ctx.emit(doc, "\n".join(lines))
    return 0


def remove_user(ctx: Context) -> int:
    removed = _users(ctx).remove(ctx.args.user)
    if not removed:
        raise InputError(f"no user {ctx.args.user!r} in {ctx.settings.users_path}: see `lore users list`")
    ctx.emit({"user": ctx.args.user, "removed": True}, f"{ctx.args.user}: removed")
    return 0
