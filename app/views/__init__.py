"""Pages of the Streamlit app (run by `st.navigation` from app/streamlit_app.py) and their helpers.

The folder is deliberately not called `pages/`: Streamlit treats a `pages/` folder beside the main
script as a legacy multi-page app, lists every file in it as a page reachable by URL, and runs a
requested page without the main script (so without the sign-in and the admin check).
"""
