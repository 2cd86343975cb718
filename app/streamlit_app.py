"""The Lore staff app (Streamlit, multi-page). Started by `lore app`; settings come from the
environment it passes (LORE_HOME, LORE_PROFILE, LORE_CONFIG, LORE_APP__...).

Each run: load the settings, find out who the user is (or show the login), then let
`st.navigation` run the page (from app/views/, see there why not pages/). Admin pages are
registered only for the admin group, so other users can neither see them in the menu nor open them
by URL.
"""

from __future__ import annotations

from retrieval.offline import apply_privacy_defaults

apply_privacy_defaults()  # before streamlit and the model libraries are imported

import time  # noqa: E402

import streamlit as st  # noqa: E402

from app import auth  # noqa: E402
from app.views import common  # noqa: E402
from retrieval.errors import LoreError  # noqa: E402
from retrieval.settings import Settings  # noqa: E402

LOGIN_USER_KEY = "lore_login_user"
SHOW_LOGIN_KEY = "lore_show_login"
FAILURES_KEY = "lore_login_failures"
MAX_FAILURES = 5  # per browser session, within LOCKOUT_S: slows down password guessing
LOCKOUT_S = 300


def users_file_identity(settings: Settings) -> auth.Identity | None:
    """The user who logged in with the form in this browser session (groups re-read each run, so a
    change in the users file applies at once and a removed user is logged out)."""
    name = st.session_state.get(LOGIN_USER_KEY)
    if not name:
        return None
    record = auth.UsersFile(settings.users_path).load().get(name)
    if record is None:
        st.session_state.pop(LOGIN_USER_KEY, None)
        return None
    return auth.identity_from_record(record, settings)


def find_identity(settings: Settings) -> auth.Identity | None:
    match settings.app.auth:
        case "trusted_header":
            return auth.identity_from_headers(st.context.headers, settings)
        case "oidc":
            if auth.oidc_configured() and st.user.is_logged_in:
                return auth.identity_from_claims(st.user.to_dict(), settings)
            return None
        case _:
            return users_file_identity(settings)


def login_form(settings: Settings) -> None:
    users = auth.UsersFile(settings.users_path)
    if not users.load():
        st.info("No users yet. An administrator creates them with `lore users add NAME --groups GROUP,...`.")
        return
    with st.form("login"):
        user = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        now = time.monotonic()
        failures = [t for t in st.session_state.get(FAILURES_KEY, []) if now - t < LOCKOUT_S]
        if len(failures) >= MAX_FAILURES:
            st.error(f"Too many failed attempts: wait {LOCKOUT_S // 60} minutes and try again.")
            return
        record = users.verify(user.strip(), password)
        if record is None:
            st.session_state[FAILURES_KEY] = [*failures, now]
            st.error("Unknown user name or wrong password.")
            return
        st.session_state.pop(FAILURES_KEY, None)
        st.session_state[LOGIN_USER_KEY] = record.user
        st.session_state.pop(SHOW_LOGIN_KEY, None)
        st.rerun()


def login_screen(settings: Settings) -> None:
    st.title("Lore")
    st.caption("Answers from the company's documents, with their sources.")
    match settings.app.auth:
        case "oidc":
            if not auth.oidc_configured():
                st.error("Single sign-on is not configured: add an [auth] section to .streamlit/secrets.toml (see docs/app.md).")
                return
            provider = settings.app.oidc_provider or None
            st.button("Log in with single sign-on", type="primary", on_click=st.login, args=(provider,) if provider else ())
        case "trusted_header":
            st.error(
                f"No signed-in user: the {settings.app.trusted_header} header is missing. "
                "Open the app through the company's sign-in proxy."
            )
        case _:
            login_form(settings)


def account_box(settings: Settings, who: auth.Identity) -> None:
    with st.sidebar:
        if who.anonymous:
            st.caption(f"Not signed in · groups: {', '.join(who.groups) or 'none'}")
            if settings.app.auth == "users_file":
                st.button("Log in", key="show_login", on_click=lambda: st.session_state.update({SHOW_LOGIN_KEY: True}))
            elif settings.app.auth == "oidc" and auth.oidc_configured():
                provider = settings.app.oidc_provider or None
                st.button("Log in", key="sso_login", on_click=st.login, args=(provider,) if provider else ())
            return
        st.caption(f"Signed in as **{who.user}** · groups: {', '.join(who.groups)}")
        if who.method == "users_file":
            st.button("Log out", key="logout", icon=":material/logout:", type="tertiary", on_click=lambda: st.session_state.pop(LOGIN_USER_KEY, None))
        elif who.method == "oidc":
            st.button("Log out", key="logout", icon=":material/logout:", type="tertiary", on_click=st.logout)


def pages(who: auth.Identity) -> dict[str, list]:
    chat = st.Page("views/chat.py", title="Chat", icon=":material/chat:", url_path="chat", default=True)
    if not who.is_admin:
        return {"": [chat]}
    return {
        "": [chat],
        "Admin": [
            st.Page("views/ingestion.py", title="Ingestion", icon=":material/upload_file:", url_path="admin-ingestion"),
            st.Page("views/quality.py", title="Quality", icon=":material/monitoring:", url_path="admin-quality"),
            st.Page("views/settings_view.py", title="Settings", icon=":material/settings:", url_path="admin-settings"),
        ],
    }


def main() -> None:
    st.set_page_config(page_title="Lore", page_icon=":material/menu_book:", layout="centered")
    try:
        settings = common.load_app_settings()
        st.session_state[common.SETTINGS_KEY] = settings
        who = find_identity(settings)
        if who is None and settings.app.allow_anonymous and not st.session_state.get(SHOW_LOGIN_KEY):
            who = auth.anonymous_identity(settings)
    except Exception as exc:
        common.show_error(exc)
        st.stop()
    if who is None:
        st.session_state.pop(common.IDENTITY_KEY, None)
        login_screen(settings)
        st.stop()
    st.session_state[common.IDENTITY_KEY] = who
    page = st.navigation(pages(who))
    account_box(settings, who)
    try:
        page.run()
    except LoreError as exc:
        common.show_error(exc)
    except Exception as exc:  # never a stack trace in the page; the app keeps serving
        common.show_error(exc)


main()
