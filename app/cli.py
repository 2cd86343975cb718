"""The `lore` command. The only place (with the app and the API) where errors become messages.

Contract (ARCHITECTURE.md): every command takes --json and then prints exactly one JSON document
(batch forms: one per line) on stdout; logs and progress go to stderr; failures exit non-zero
with a one-line message that names the fix.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import pkgutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from retrieval.errors import LoreError
from retrieval.offline import apply_privacy_defaults
from retrieval.settings import Settings, load_settings

log = logging.getLogger("lore")


@dataclass
class Context:
    """What a command gets: the settings (loaded once, here) and the output channel."""

    args: argparse.Namespace
    settings: Settings
    json: bool
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def emit(self, doc: dict[str, Any], text: str | None = None) -> None:
        """One result: a JSON line with --json, else the human text (or indented JSON)."""
        if self.json:
            self.out.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
        else:
            self.out.write((text if text is not None else json.dumps(doc, indent=2, ensure_ascii=False, default=str)) + "\n")
        self.out.flush()

    def info(self, message: str) -> None:
        self.err.write(message + "\n")
        self.err.flush()

    def progress(self, description: str, total: int | None = None, unit: str = "it", unit_scale: bool = False) -> Any:
        """A progress bar on stderr when it is a terminal (silent otherwise)."""
        from tqdm import tqdm

        return tqdm(total=total, desc=description, unit=unit, unit_scale=unit_scale, file=self.err, disable=None, leave=False)


Overrides = Callable[[argparse.Namespace], dict[str, Any]]


def common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document (batch: one per line) on stdout")
    common.add_argument("--config", metavar="FILE", help="settings file (default: ./lore.toml, then $LORE_HOME/lore.toml)")
    common.add_argument("--home", metavar="DIR", help="data directory (overrides LORE_HOME)")
    common.add_argument("--profile", choices=["local", "api", "test"], help="settings profile")
    common.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lore", description="Lore: answers from your company's documents, with citations.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_parser()
    import app.commands as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"app.commands.{info.name}")
        module.register(sub, common)
    return parser


def flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from retrieval.settings import deep_merge, nested

    merged: dict[str, Any] = {}
    if args.home:
        merged["home"] = args.home
    if args.profile:
        merged["profile"] = args.profile
    for dotted, value in (getattr(args, "overrides", None) or (lambda a: {}))(args).items():
        if value is not None:
            merged = deep_merge(merged, nested(dotted, value))
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    apply_privacy_defaults()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    json_mode = bool(getattr(args, "json", False))
    try:
        settings = load_settings(args.config, flag_overrides(args))
        ctx = Context(args=args, settings=settings, json=json_mode)
        code = args.func(ctx)
        return int(code or 0)
    except LoreError as exc:
        return fail(str(exc), exc.exit_code, json_mode)
    except KeyboardInterrupt:
        return fail("interrupted: run the command again to continue where it stopped", 130, json_mode)
    except BrokenPipeError:
        return 0


def fail(message: str, code: int, json_mode: bool) -> int:
    message = " ".join(message.split())  # always one line
    if json_mode:
        sys.stdout.write(json.dumps({"error": message}) + "\n")
    sys.stderr.write(f"lore: error: {message}\n")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
