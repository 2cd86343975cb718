"""Secrets of remote sources: a `sources.yaml` names where a secret is (`secret_key_env: LORE_S3_SECRET`
or `secret_key_file: /run/secrets/s3`), never the secret itself, and everything shown to a person
(`lore config show`, the admin page, error messages) masks it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from retrieval.errors import ConfigError, InputError

MASK = "***"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SecretRef:
    """Where one secret lives: an environment variable or a file (first line, trimmed)."""

    field: str  # e.g. "secret_key" (the YAML keys are secret_key_env / secret_key_file)
    env: str = ""
    file: str = ""

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], field: str, where: str) -> SecretRef | None:
        if field in spec:
            raise ConfigError(
                f"{where}: `{field}` holds a secret in the YAML; put it in an environment variable or a file "
                f"and name it with `{field}_env` or `{field}_file` instead"
            )
        env, file = spec.get(f"{field}_env"), spec.get(f"{field}_file")
        if env is None and file is None:
            return None
        if env is not None and file is not None:
            raise ConfigError(f"{where}: give `{field}_env` or `{field}_file`, not both")
        if env is not None and not (isinstance(env, str) and ENV_NAME.match(env)):
            raise ConfigError(f"{where}: `{field}_env` must name an environment variable (letters, digits, _), got {env!r}")
        if file is not None and not (isinstance(file, str) and file.strip()):
            raise ConfigError(f"{where}: `{field}_file` must be a path")
        return cls(field, env or "", os.path.expanduser(file) if file else "")

    @property
    def origin(self) -> str:
        """Where the secret comes from, for messages: `$LORE_S3_SECRET` or `file /run/secrets/s3`."""
        return f"${self.env}" if self.env else f"file {self.file}"

    def read(self) -> str:
        """The secret; a missing variable or file is the user's to fix (InputError naming it)."""
        if self.env:
            value = os.environ.get(self.env)
            if not value:
                raise InputError(f"{self.field}: environment variable {self.env} is not set: export it (named by `{self.field}_env`)")
            return value
        try:
            value = Path(self.file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"{self.field}: cannot read {self.file} ({exc.strerror}): fix `{self.field}_file`") from exc
        if not value:
            raise InputError(f"{self.field}: {self.file} is empty: write the secret into it")
        return value

    def describe(self) -> dict[str, str]:
        """For `lore config show`: the reference, and the value masked (empty when not set)."""
        try:
            present = bool(self.read())
        except InputError:
            present = False
        key = f"{self.field}_env" if self.env else f"{self.field}_file"
        return {key: self.env or self.file, self.field: MASK if present else ""}


def mask_url(url: str) -> str:
    """`https://user:pw@host/x` → `https://user:***@host/x`; query values named like secrets masked too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = re.sub(r"(?i)((?:^|&)[^=&]*(?:token|secret|password|key|signature)[^=&]*=)[^&]*", rf"\1{MASK}", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
