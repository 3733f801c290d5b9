"""Serve the app with its streamed-download route: `streamlit run server.py`.

`streamlit run` finds the module-level `app = App(...)` below (by reading this file,
see streamlit/web/server/app_discovery.py), imports it and serves it with uvicorn:
Streamlit's own UI and endpoints from `dashboard/app.py` (the navigation entry point;
`App(...)` resolves it next to this file), plus `GET /export/csv?ticket=...`
(`dashboard/stream.py`), `GET /session/start?ticket=...`, which sets the session
cookie after a sign-in (`dashboard/sessions.py`), and the REST API under `/api/v1`
(`dashboard/api.py`, docs/API.md: bearer tokens, JSON), on the same port. Command-line
flags (`--server.port`, ...) and `.streamlit/config.toml` apply as with any
`streamlit run`.

Every response carries the security headers of `dashboard/web.py` (Content-Security-
Policy, X-Frame-Options, X-Content-Type-Options, Referrer-Policy), and `/_stcore/metrics`
answers 404 without the metrics token (`COMPLIANCE_METRICS_TOKEN`).

While the server runs, its scheduler (`dashboard/scheduler.py`, APScheduler, started by
the lifespan) runs the daily check and snapshot, the reminder scan and the delivery of the
outbox (docs/NOTIFICATIONS.md); `COMPLIANCE_SCHEDULER=off` leaves them out.

The store the app opens gets a renewer thread (`dashboard/stored.py`, `start_renewer`):
once a minute it renews the stored evaluation's stale results (a new day, a write, an
incident deadline passed), so that pages find them current.

Streamlit's main script is `dashboard/app.py`, not this file: `pages/` beside this file
is not beside the main script, so Streamlit never enters its legacy multipage mode
(see dashboard/navigation.py, APP_SCRIPT).
"""
from starlette.routing import Route
from streamlit.starlette import App

from dashboard import api, scheduler, sessions, stored, stream, web
from dashboard.navigation import APP_SCRIPT

EXPORT_PATH = stream.route_path()   # /export/csv, below server.baseUrlPath when set
SESSION_PATH = sessions.route_path()  # /session/start, likewise
API_PATH = api.route_prefix()       # /api/v1, likewise

app = App(APP_SCRIPT, routes=[Route(EXPORT_PATH, stream.export_csv, methods=["GET"]),
                             Route(SESSION_PATH, sessions.start, methods=["GET"]),
                             *api.routes(prefix=API_PATH)],
          middleware=web.middleware(), lifespan=scheduler.lifespan)
stream.serve_at(EXPORT_PATH)        # the Exports page offers streamed links from now on
sessions.serve_at(SESSION_PATH)     # a sign-in is kept in the session cookie from now on
stored.enable_renewer()             # the store's evaluation is renewed between page views
