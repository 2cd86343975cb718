"""Access groups per document: a sidecar file beside the document, else the first matching rule
of the ACL map (ordered `glob → [groups]`, globs relative to the root given), else the default.

Groups end up on every chunk as exact-match boolean metadata keys (`acl:<group>`), and joined
with commas in `groups`, so a group name may not contain a comma or whitespace.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.errors import ConfigError, InputError
from ingest.globs import glob_match

GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$")
SIDECAR_SUFFIX = ".acl"  # report.pdf → report.pdf.acl


def parse_groups(value: Any, where: str) -> tuple[str, ...]:
    """A list of group names, or one comma/whitespace-separated string of them."""
    if isinstance(value, str):
        items = [g for g in re.split(r"[,\s]+", value) if g]
    elif isinstance(value, Sequence):
        items = [str(g).strip() for g in value]
    else:
        raise ConfigError(f"{where}: groups must be a list of names, got {type(value).__name__}")
    for group in items:
        if not GROUP_NAME.match(group):
            raise ConfigError(f"{where}: invalid group name {group!r}: use letters, digits and . _ @ : + - only")
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class AclMap:
    """Ordered rules; the first glob that matches a document's relative path wins."""

    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, where: str = "ACL map") -> AclMap:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a mapping of glob → list of groups (see docs/ingestion.md)")
        return cls(tuple((str(glob), parse_groups(groups, f"{where} [{glob}]")) for glob, groups in data.items()))

    @classmethod
    def load(cls, path: Path) -> AclMap:
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise InputError(f"ACL map {path} not found: check the --acl-map path") from exc
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"ACL map {path} is not valid YAML ({exc.__class__.__name__}): fix the file") from exc
        return cls.from_mapping(data or {}, str(path))

    def groups_for(self, relpath: str) -> tuple[str, ...] | None:
        for glob, groups in self.rules:
            if glob_match(glob, relpath):
                return groups
        return None


def read_sidecar(document: Path) -> tuple[str, ...] | None:
    """Groups from `<document>.acl` (YAML list, or names separated by commas/newlines), if present."""
    sidecar = document.with_name(document.name + SIDECAR_SUFFIX)
    try:
        text = sidecar.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"unreadable ACL sidecar {sidecar} ({exc.__class__.__name__}): fix or remove it") from exc
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = text
    if data is None:
        return ()
    if isinstance(data, Mapping):  # {groups: [...]}
        data = data.get("groups", [])
    return parse_groups(data, str(sidecar))


def resolve_groups(document: Path, relpath: str, acl: AclMap, default: Sequence[str]) -> tuple[str, ...]:
    sidecar = read_sidecar(document)
    if sidecar is not None:
        return sidecar
    mapped = acl.groups_for(relpath)
    return mapped if mapped is not None else tuple(default)


def source_acl(spec: Mapping[str, Any], base: Path, where: str) -> AclMap:
    """A source's `acl`: a path to an ACL map file (relative to the sources file) or the map itself."""
    acl_spec = spec.get("acl")
    if isinstance(acl_spec, str):
        return AclMap.load(resolve_path(base, acl_spec))
    return AclMap.from_mapping(acl_spec, f"{where} source {str(spec['name'])!r} acl")


def resolve_path(base: Path, value: str) -> Path:
    """`value` (a path in a config file, `~` allowed) relative to the file's folder `base`."""
    path = Path(os.path.expanduser(str(value)))
    return path if path.is_absolute() else base / path
