"""Pages of the Streamlit app (run by `st.navigation` from app/streamlit_app.py) and their shared helpers."""
