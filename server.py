"""Serve the app with its streamed-download route: `streamlit run server.py`.

`streamlit run` finds the module-level `app = App(...)` below (by reading this file,
see streamlit/web/server/app_discovery.py), imports it and serves it with uvicorn:
Streamlit's own UI and endpoints from `app.py` (still the navigation entry point;
`App("app.py")` resolves next to this file), plus `GET /export/csv?ticket=...`
(`dashboard/stream.py`), and `GET /session/start?ticket=...`, which sets the session
cookie after a sign-in (`dashboard/sessions.py`), on the same port. Command-line flags (`--server.port`, ...)
and `.streamlit/config.toml` apply as with `streamlit run app.py`.

Served by `streamlit run app.py` instead, the app works the same except that the
Exports page falls back to `st.download_button` (the file held in memory), and a
sign-in lasts one browser tab (no session cookie).
"""
from starlette.routing import Route
from streamlit.starlette import App

from dashboard import sessions, stream

EXPORT_PATH = stream.route_path()   # /export/csv, below server.baseUrlPath when set
SESSION_PATH = sessions.route_path()  # /session/start, likewise

app = App("app.py", routes=[Route(EXPORT_PATH, stream.export_csv, methods=["GET"]),
                            Route(SESSION_PATH, sessions.start, methods=["GET"])])
stream.serve_at(EXPORT_PATH)        # the Exports page offers streamed links from now on
sessions.serve_at(SESSION_PATH)     # a sign-in is kept in the session cookie from now on
