"""Lore core: settings, schema, backends, store, retrieval and answering."""
