"""A page that shows only the incident page's Documents section (tests/test_i18n_documents.py
runs it with AppTest: pages/incident.py calls the same ``ui_documents.render``)."""
import streamlit as st

from dashboard import i18n, ui_documents

i18n.set_locale(st.session_state.get("locale") or "en")
ui_documents.render(st.session_state["actor"], st.session_state.get("incident_id", "INC-2026-0007"))
