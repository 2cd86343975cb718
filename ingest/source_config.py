"""`sources.yaml` → the named sources to ingest: folders (ingest/sources.py) and remote kinds
(`s3`, `web`, `imap`: ingest/remote/). The format is in docs/ingestion.md."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingest.acl import parse_groups, resolve_path, source_acl
from ingest.remote import parse_remote
from ingest.sources import Source
from retrieval.errors import ConfigError, InputError


def load_source_config(path: Path) -> tuple[list[Any], tuple[str, ...] | None]:
    """sources.yaml → named sources (see docs/ingestion.md for the format)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise InputError(f"source config {path} not found: check the --source-config path") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"source config {path} is not valid YAML ({exc.__class__.__name__}): fix the file") from exc
    if not isinstance(data, Mapping) or "sources" not in data:
        raise ConfigError(f"source config {path}: expected a top-level `sources:` list or mapping (see docs/ingestion.md)")
    default = parse_groups(data["default_groups"], f"{path} default_groups") if "default_groups" in data else None
    items = data["sources"]
    if isinstance(items, Mapping):
        items = [{"name": name, **(spec or {})} for name, spec in items.items()]
    if not isinstance(items, list) or not items:
        raise ConfigError(f"source config {path}: `sources` is empty")
    base = Path(path).absolute().parent
    sources: list[Source] = []
    for spec in items:
        sources.extend(_source_from_spec(spec, base, str(path)))
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"source config {path}: source names must be unique")
    return sources, default


def _source_from_spec(spec: Any, base: Path, where: str) -> list[Any]:
    if not isinstance(spec, Mapping) or not spec.get("name"):
        raise ConfigError(f"{where}: each source needs a `name` and a `root` (or `roots`)")
    name = str(spec["name"])
    kind = str(spec.get("kind", "folder"))
    if kind != "folder":
        return [parse_remote(kind, spec, base, where)]
    roots = spec.get("roots") or ([spec["root"]] if spec.get("root") else [])
    if not roots:
        raise ConfigError(f"{where}: source {name!r} has no `root`")
    acl = source_acl(spec, base, where)
    groups = parse_groups(spec["groups"], f"{where} source {name!r} groups") if "groups" in spec else None
    include = tuple(_strings(spec.get("include", ["**"]), where))
    exclude = tuple(_strings(spec.get("exclude", []), where))
    return [
        Source(name=name if len(roots) == 1 else f"{name}[{i}]", root=resolve_path(base, r), include=include, exclude=exclude,
               acl=acl, groups=groups, prefix=name)
        for i, r in enumerate(roots)
    ]  # fmt: skip


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ConfigError(f"{where}: include/exclude must be a glob or a list of globs")
