"""Lore's edges: the `lore` command, the Streamlit app and the HTTP API."""
