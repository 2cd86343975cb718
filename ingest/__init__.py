"""Lore ingestion: parse, chunk, embed, upsert/delete, incrementally."""
