"""Serve the app with its streamed-download route: `streamlit run server.py`.

`streamlit run` finds the module-level `app = App(...)` below (by reading this file,
see streamlit/web/server/app_discovery.py), imports it and serves it with uvicorn:
Streamlit's own UI and endpoints from `app.py` (still the navigation entry point;
`App("app.py")` resolves next to this file), plus `GET /export/csv?ticket=...`
(`dashboard/stream.py`), on the same port. Command-line flags (`--server.port`, ...)
and `.streamlit/config.toml` apply as with `streamlit run app.py`.

Served by `streamlit run app.py` instead, the app works the same except that the
Exports page falls back to `st.download_button` (the file held in memory).
"""
from starlette.routing import Route
from streamlit.starlette import App

from dashboard import stream

EXPORT_PATH = stream.route_path()   # /export/csv, below server.baseUrlPath when set

app = App("app.py", routes=[Route(EXPORT_PATH, stream.export_csv, methods=["GET"])])
stream.serve_at(EXPORT_PATH)        # the Exports page offers streamed links from now on
