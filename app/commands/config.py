"""`lore config show`: the effective settings, secrets masked, and the named sources of sources.yaml
with their credentials masked (the YAML names where a secret is; the value is shown as '***')."""

from __future__ import annotations

from pathlib import Path

from app.cli import Context
from retrieval.settings import masked_dump


def register(sub, common) -> None:
    parser = sub.add_parser("config", help="show the effective settings")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", parents=[common], help="print the effective settings (secrets masked)")
    show.add_argument("--source-config", metavar="FILE", help="sources.yaml to show (default: LORE_HOME/sources.yaml when it exists)")
    show.set_defaults(func=show_config)


def show_config(ctx: Context) -> int:
    from ingest.source_config import load_source_config

    doc = masked_dump(ctx.settings)
    path = Path(ctx.args.source_config) if getattr(ctx.args, "source_config", None) else ctx.settings.home / "sources.yaml"
    if ctx.args.source_config or path.is_file():
        sources, default = load_source_config(path)
        doc["sources"] = {"file": str(path), "default_groups": list(default) if default is not None else None,
                          "sources": [s.describe() for s in sources]}  # fmt: skip
    lines = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}{key}.", inner)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, inner in enumerate(value):
                walk(f"{prefix}{index}.", inner)
        else:
            lines.append(f"{prefix[:-1]} = {value!r}")

    walk("", doc)
    ctx.emit(doc, "\n".join(lines))
    return 0
