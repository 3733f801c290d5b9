"""Policy: the privacy policy's text, clauses numbered as in the document, and the rules
that test each clause. ``/policy?clause=5.1.4`` opens on that clause."""
from pathlib import Path

import streamlit as st

from dashboard import ui
from dashboard import queries as Q
from dashboard import views as view

actor = ui.page_guard("policy")
clauses = ui.cached(Q.policy_clauses)
rules = view.rules()
numbers = [c for c in clauses["clause"] if c != "0"]
by_number = {row.clause: row for row in clauses.itertuples(index=False)}

st.title("Privacy policy", anchor=False)
st.caption("The Platform's published privacy policy, clause numbers as in the document. "
           "Register pages, findings and incidents link here; the rules under a clause are "
           "the compliance checks that test it.")

# The focused clause follows the URL (?clause=5.1.4) both ways.
asked = st.query_params.get("clause")
if "policy_clause" not in st.session_state:
    st.session_state["policy_clause"] = asked if asked in numbers else None
if asked and asked not in numbers:
    st.warning(f"The policy has no clause {ui.plain(asked)}. Showing the whole policy.",
               icon=":material/search_off:")


def _sync_url() -> None:
    chosen = st.session_state.get("policy_clause")
    if chosen:
        st.query_params["clause"] = chosen
    else:
        st.query_params.pop("clause", None)


focus = st.selectbox(
    "Go to clause", numbers, key="policy_clause", on_change=_sync_url, index=None,
    placeholder="Choose a clause, e.g. 5.1.4",
    format_func=lambda n: f"{n} · {by_number[n].title}")
if focus:
    st.query_params["clause"] = focus

with st.sidebar:
    st.subheader("Contents", anchor=False)
    st.markdown("\n".join(
        f"- [{n}. {by_number[n].title}](#{view.anchor(n)})"
        for n in numbers if not by_number[n].parent))

if focus:
    row = by_number[focus]
    with st.container(border=True):
        st.subheader(f"{'Clause' if row.parent else 'Article'} {focus}", anchor=False)
        st.caption(view.article_line(row, by_number))
        st.markdown(view.clause_markdown(row))
        view.rules_block(focus, rules)
        view.related_pages(focus, actor, Path(__file__).resolve().parent.parent)
        st.button("Show the whole policy without a linked clause", icon=":material/close:",
                  on_click=view.clear_focus)

for row in clauses.itertuples(index=False):
    if row.clause == "0":
        st.markdown(view.clause_markdown(row, number=False))
        continue
    if not row.parent:
        st.header(f"{row.clause}. {row.title}", anchor=view.anchor(row.clause), divider="gray")
        if row.body != row.title:
            st.markdown(view.clause_markdown(row, number=False))
        view.rule_badges(row.clause, rules)
        continue
    if row.clause == focus:
        with st.container(border=True):
            st.markdown(":orange-badge[:material/link: Linked clause]")
            st.markdown(view.clause_markdown(row))
            view.rule_badges(row.clause, rules)
    else:
        st.markdown(view.clause_markdown(row))
        view.rule_badges(row.clause, rules)
