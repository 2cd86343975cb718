"""Admin: the effective settings, read-only, with every secret masked."""

from __future__ import annotations

import streamlit as st

from app.views import common
from retrieval.settings import masked_dump


def main() -> None:
    common.require_admin()
    settings = common.settings()
    st.title("Settings")
    st.caption(
        "Effective settings of this app process (defaults < profile < lore.toml < environment). "
        "Read-only: change lore.toml or LORE_... variables and restart `lore app`. Secrets show as ***."
    )
    cols = st.columns(3)
    cols[0].metric("Profile", settings.profile)
    cols[1].metric("Sign-in", settings.app.auth)
    cols[2].metric("Anonymous use", "on" if settings.app.allow_anonymous else "off")
    st.caption(f"Data directory: `{settings.home}` · users file: `{settings.users_path}`")
    st.json(masked_dump(settings), expanded=2)


main()
