"""`lore config show`: the effective settings, secrets masked."""

from __future__ import annotations

from app.cli import Context
from retrieval.settings import masked_dump


def register(sub, common) -> None:
    parser = sub.add_parser("config", help="show the effective settings")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", parents=[common], help="print the effective settings (secrets masked)")
    show.set_defaults(func=show_config)


def show_config(ctx: Context) -> int:
    doc = masked_dump(ctx.settings)
    lines = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}{key}.", inner)
        else:
            lines.append(f"{prefix[:-1]} = {value!r}")

    walk("", doc)
    ctx.emit(doc, "\n".join(lines))
    return 0
