"""The floor of a page with a chart, for ``bench/bench_browser.py``: a sign-in-like form
and, once it is submitted, one small Plotly chart - nothing read from a store.

    .venv/bin/python -m streamlit run bench/trivial_app.py

The form (a username, a password, a "Sign in" button) checks nothing; submitting it reruns
the script, which then draws the chart, as the app's Overview draws its charts after a
sign-in. With ``?chart=1`` in the address the chart is drawn on the first run (a page load
straight to the chart). The chart is made and shown as the Overview makes and shows its
own (``plotly.graph_objects``, ``theme="streamlit"``, a click selects a bar and reruns).
"""
import plotly.graph_objects as go
import streamlit as st

st.title("Trivial page", anchor=False)
signed = st.session_state.get("signed", False) or st.query_params.get("chart") == "1"
if not signed:
    with st.form("sign_in"):
        st.text_input("Username")
        st.text_input("Password", type="password")
        if st.form_submit_button("Sign in"):
            st.session_state["signed"] = signed = True
if signed:
    fig = go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2], name="trivial"))
    fig.update_layout(title="One small chart", height=300)
    st.plotly_chart(fig, theme="streamlit", key="chart", on_select="rerun",
                    selection_mode="points", config={"displaylogo": False})
