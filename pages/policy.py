"""Policy: the privacy policy's text, clauses numbered as in the document, and the rules
that test each clause. ``/policy?clause=5.1.4`` opens on that clause. Beside the compliance
score, "Policy vs law": the clauses where the law asks more than the policy's text says
(``dashboard.policy_law``), downloadable as CSV."""
from pathlib import Path

import streamlit as st

from dashboard import dashboards as D
from dashboard import exports
from dashboard import policy_law as PL
from dashboard import ui
from dashboard import queries as Q
from dashboard import views as view

actor = ui.page_guard("policy")
store = ui.get_store()
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
        ["- [Policy vs law](#policy-vs-law)"] +
        [f"- [{n}. {ui.plain(by_number[n].title)}](#{view.anchor(n)})"
         for n in numbers if not by_number[n].parent]))

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

# -- policy vs law: where the law asks more than the policy's text says ------------------------
as_of = D.as_of_for(store)
summary = ui.cached(D.summary, as_of=as_of)
beyond = ui.cached(PL.beyond_policy_view, as_of=as_of)
changed = ui.cached(PL.changed_view, as_of=as_of)
st.subheader("Policy vs law", anchor="policy-vs-law")
st.caption("Version 1 of the compliance rules followed the policy's text; version 2 also "
           "follows the laws its promises rest on. Where the law asks more than the text says, "
           "a rule added in version 2 checks it: the policy's owner may want to say so in the "
           f"policy. Results as of {summary['as_of']:%Y-%m-%d %H:%M} (Asia/Shanghai).")
with st.container(horizontal=True):
    st.metric("Compliance score", D.percent(summary["overall"]), border=True,
              help="The overall score (Overview): the mean over clauses of the share of the "
                   "entities their rules apply to that break none of them.")
    st.metric("Clauses where the law asks more", f"{beyond['clause'].nunique():,}",
              border=True, help="Policy clauses with a rule that version 2 added, because "
                                "the law asks more than the clause's text says.")
    st.metric("Findings of those rules",
              f"{int(beyond.drop_duplicates('rule_id')['findings'].fillna(0).sum()):,}",
              border=True, help="Open findings of the rules added in version 2, each rule "
                                "counted once.")
    st.metric("Rules version 2 changed", f"{len(changed):,}", border=True,
              help="Rules of version 1 whose scope version 2 changed.")
with st.expander(f"Where the law asks more than the policy says "
                 f"({beyond['rule_id'].nunique()} rules)", expanded=not focus,
                 icon=":material/gavel:"):
    if beyond.empty:
        st.info("No rule added in version 2 is loaded: every rule follows the policy's text.",
                icon=":material/info:")
    else:
        view.law_beyond_list(beyond)
    st.markdown("**Rules version 2 changed**")
    if changed.empty:
        st.caption("No rule of version 1 records a change in version 2.")
    else:
        view.changed_rules_table(changed)
    st.caption("Confidence of a legal source: " + "; ".join(
        f"**{mark}** {meaning}" for mark, meaning in Q.CONFIDENCE.items() if mark != "C") + ".")
    if actor.may(exports.EXPORT_ACTION):
        name = PL.file_name(store.now())
        st.download_button(
            "Download policy vs law (CSV)",
            data=lambda n=name, a=as_of: PL.download_bytes(store, actor, as_of=a, name=n),
            file_name=name, mime=exports.CSV_MIME, on_click="ignore",
            icon=":material/download:", key="policy_law_download",
            help="Both lists, one row per clause and rule: the policy's text, what the law "
                 "asks, what changed, the legal source and the latest result, for the "
                 "policy's owner. The download is itself logged.")
    else:
        st.caption("Downloading it is for DPOs and auditors (permission export.download).")

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
