"""Path globs relative to a root: `*` and `?` stay inside one folder, `**` crosses folders, a
pattern without `/` matches the file name at any depth (as in .gitignore), and a leading `/`
anchors a pattern at the root."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip()
    if pattern.startswith("./"):
        pattern = pattern[2:]
    if pattern.startswith("/"):  # anchored at the root
        pattern = pattern.lstrip("/")
    elif "/" not in pattern.rstrip("/"):
        pattern = "**/" + pattern
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out).rstrip("/") + r"\Z", re.DOTALL)


def glob_match(pattern: str, relpath: str) -> bool:
    """Does `relpath` (a '/'-separated path relative to the root) match `pattern`?"""
    return glob_regex(pattern).match(relpath) is not None


def any_match(patterns: Sequence[str], relpath: str) -> bool:
    return any(glob_match(p, relpath) for p in patterns)


def has_magic(text: str) -> bool:
    return any(ch in text for ch in "*?[")
