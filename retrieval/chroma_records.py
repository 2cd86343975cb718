"""How Lore's chunks are written in Chroma, and read back: one boolean metadata key per group
(`acl:<group>`), `where` clauses over those keys and the document id, and the bookkeeping keys
llama-index's adapter adds, which are not the chunk's own metadata."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from retrieval.schema import GROUP_KEY_PREFIX, group_key


def group_filter(groups: Sequence[str] | None) -> dict[str, Any] | None:
    """Chroma `where` clause admitting chunks readable by any of `groups` (None: no filter, for admins
    and maintenance jobs only; an empty list admits nothing)."""
    if groups is None:
        return None
    clauses = [{group_key(g): {"$eq": True}} for g in dict.fromkeys(groups)]
    if not clauses:
        return {group_key("\x00none"): {"$eq": True}}
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def restrict_to_docs(where: dict[str, Any] | None, docs: Sequence[str] | None) -> dict[str, Any] | None:
    """`where` narrowed to chunks of `docs` (None: no narrowing)."""
    if docs is None:
        return where
    only = {"doc": {"$in": list(dict.fromkeys(docs)) or ["\x00none"]}}
    return only if where is None else {"$and": [where, only]}


def acl_groups(meta: Mapping[str, Any]) -> frozenset[str]:
    """The groups a stored chunk's metadata admits: exactly the keys `group_filter` matches."""
    return frozenset(k[len(GROUP_KEY_PREFIX) :] for k, v in meta.items() if k.startswith(GROUP_KEY_PREFIX) and v is True)


def cosine_from_llama_score(similarity: float) -> float:
    """llama-index's Chroma adapter reports exp(-distance); with cosine space, cos = 1 - distance."""
    if similarity <= 0:
        return -1.0
    return 1.0 + math.log(similarity)


_LLAMA_KEYS = ("_node_content", "_node_type", "document_id", "ref_doc_id", "doc_id")


def plain_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in _LLAMA_KEYS}
