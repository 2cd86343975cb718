"""`lore serve` (the HTTP API) and `lore keys add|list|revoke` (its API keys)."""

from __future__ import annotations

import datetime as dt
import os

from app.cli import Context, flag_overrides
from app.keys import KeyStore
from retrieval.errors import InputError


def register(sub, common) -> None:
    serve = sub.add_parser("serve", parents=[common], help="run the HTTP API (OpenAI-compatible chat completions, search, metrics)")
    serve.add_argument("--host", help="address to listen on (default: api.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: api.port, 8080)")
    serve.add_argument("--workers", type=int, help="server processes (default: api.workers, 1; 0: one per CPU core)")
    serve.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"], help="uvicorn's log level")
    serve.set_defaults(func=run_server, overrides=lambda a: {"api.host": a.host, "api.port": a.port, "api.workers": a.workers})

    keys = sub.add_parser("keys", help="manage API keys (stored hashed in LORE_HOME)")
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", parents=[common], help="create an API key for a user; prints the key once")
    add.add_argument("user", help="the user the key acts as (logged with every answer)")
    add.add_argument("--groups", required=True, help="comma-separated groups the key may read (include the admin group for /v1/ingest)")
    add.set_defaults(func=add_key)
    listing = actions.add_parser("list", parents=[common], help="list API keys (ids, users, groups; never the keys)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.set_defaults(func=list_keys)
    revoke = actions.add_parser("revoke", parents=[common], help="revoke a key by its id, or every key of a user")
    revoke.add_argument("key_id", metavar="KEY_ID_OR_USER")
    revoke.set_defaults(func=revoke_key)


def run_server(ctx: Context) -> int:
    import uvicorn

    settings = ctx.settings
    workers = settings.api.workers or os.cpu_count() or 1
    ctx.info(f"lore: serving the API on http://{settings.api.host}:{settings.api.port} (LORE_HOME={settings.home}, {workers} process(es))")
    options = {
        "host": settings.api.host,
        "port": settings.api.port,
        "log_level": ctx.args.log_level,
        "access_log": ctx.args.log_level in ("info", "debug"),
        "timeout_graceful_shutdown": 10,
    }
    if workers == 1:
        from app.api import create_app

        uvicorn.Server(uvicorn.Config(create_app(settings), **options)).run()
        return 0
    from app import serve_workers

    spec = {"config": ctx.args.config, "overrides": flag_overrides(ctx.args)}  # each worker loads the same settings
    metrics_dir = settings.home / "run" / f"metrics-{os.getpid()}"
    return serve_workers.serve(spec, settings.api.host, settings.api.port, workers, metrics_dir, options)


def add_key(ctx: Context) -> int:
    key, record = KeyStore.for_settings(ctx.settings).add(ctx.args.user, ctx.args.groups)
    doc = {"key": key, **record.to_json()}
    ctx.emit(doc, f"{key}\n(key id {record.key_id} for {record.user}, groups {','.join(record.groups)}; shown once: store it now)")
    return 0


def list_keys(ctx: Context) -> int:
    records = KeyStore.for_settings(ctx.settings).list(include_revoked=ctx.args.all)
    lines = [
        f"{r.key_id}  {r.user:<20} {','.join(r.groups):<30} {dt.datetime.fromtimestamp(r.created):%Y-%m-%d %H:%M}{'  revoked' if r.revoked else ''}"
        for r in records
    ] or ["(no keys: create one with `lore keys add USER --groups g1,g2`)"]
    ctx.emit({"keys": [r.to_json() for r in records]}, "\n".join(lines))
    return 0


def revoke_key(ctx: Context) -> int:
    revoked = KeyStore.for_settings(ctx.settings).revoke(ctx.args.key_id)
    if not revoked:
        raise InputError(f"no valid key with id or user {ctx.args.key_id!r}: `lore keys list` shows them")
    ctx.emit({"revoked": [r.key_id for r in revoked]}, f"revoked {len(revoked)} key(s): {', '.join(r.key_id for r in revoked)}")
    return 0
