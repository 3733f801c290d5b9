"""Policy: the privacy policy's text, clauses numbered as in the document, and the rules
that test each clause. ``/policy?clause=5.1.4`` opens on that clause. Beside the compliance
score, "Policy vs law": the clauses where the law asks more than the policy's text says
(``dashboard.policy_law``), downloadable as CSV."""
from pathlib import Path

import streamlit as st

from dashboard.access import ACTION_TITLES
from dashboard import dashboards as D
from dashboard import exports
from dashboard import policy_law as PL
from dashboard import ui
from dashboard import queries as Q
from dashboard import views as view
from dashboard.i18n import _, fmt_datetime, fmt_number, is_chinese, label

actor = ui.page_guard("policy")
store = ui.get_store()
clauses = ui.cached(Q.policy_clauses)
rules = view.rules()
numbers = [c for c in clauses["clause"] if c != "0"]
by_number = {row.clause: row for row in clauses.itertuples(index=False)}
zh = is_chinese()


def title_of(number: str) -> str:
    """A clause's title: in Chinese the project's unofficial translation (非官方译文)."""
    return PL.clause_title(number, by_number[number].title)


if zh and rules:
    # the rules' titles in Chinese and their severities in words, for the clause's table
    # (the badges keep the codes: their colour)
    from dashboard import rules as R
    loaded = R.rule_map()
    rules_shown = {c: [{**r, "title": R.text(loaded[r["rule_id"]], "title")
                        if r["rule_id"] in loaded else r["title"],
                        "severity": label("severity", r["severity"])} for r in found]
                   for c, found in rules.items()}
else:
    rules_shown = rules

st.title(_("Privacy policy"), anchor=False)
st.caption(_("The Platform's published privacy policy, clause numbers as in the document. "
             "Register pages, findings and incidents link here; the rules under a clause are "
             "the compliance checks that test it."))
if zh:
    st.info("本平台公开发布的隐私政策仅有英文版本，以下条款正文保持英文原文。条款标题的中文为"
            "非官方译文，仅供阅读参考，以英文原文为准。", icon=":material/translate:")

# The focused clause follows the URL (?clause=5.1.4) both ways.
asked = st.query_params.get("clause")
if "policy_clause" not in st.session_state:
    st.session_state["policy_clause"] = asked if asked in numbers else None
if asked and asked not in numbers:
    st.warning(_("The policy has no clause {clause}. Showing the whole policy.").format(
        clause=ui.plain(asked)), icon=":material/search_off:")


def _sync_url() -> None:
    chosen = st.session_state.get("policy_clause")
    if chosen:
        st.query_params["clause"] = chosen
    else:
        st.query_params.pop("clause", None)


focus = st.selectbox(
    _("Go to clause"), numbers, key="policy_clause", on_change=_sync_url, index=None,
    placeholder=_("Choose a clause, e.g. 5.1.4"),
    format_func=lambda n: f"{n} · {title_of(n)}")
if focus:
    st.query_params["clause"] = focus

with st.sidebar:
    st.subheader(_("Contents"), anchor=False)
    st.markdown("\n".join(
        ["- [" + _("Policy vs law") + "](#policy-vs-law)"] +
        [f"- [{n}. {ui.plain(title_of(n))}](#{view.anchor(n)})"
         for n in numbers if not by_number[n].parent]))
    if zh:
        st.caption("条款标题为非官方译文。")

if focus:
    row = by_number[focus]
    with st.container(border=True):
        st.subheader((_("Clause {clause}") if row.parent else _("Article {clause}")).format(
            clause=focus), anchor=False)
        if zh:
            article = by_number.get(row.article)
            parts = [_("Article {article}. {title}").format(
                article=row.article, title=title_of(row.article)) if article is not None
                else ""]
            if row.parent and row.parent != row.article and row.parent in by_number:
                parts.append(f"{row.parent} {title_of(row.parent)}")
            parts.append(f"{focus} {title_of(focus)}（非官方译文）")
            st.caption(" › ".join(p for p in parts if p))
        else:
            st.caption(view.article_line(row, by_number))
        st.markdown(view.clause_markdown(row))
        view.rules_block(focus, rules_shown)
        view.related_pages(focus, actor, Path(__file__).resolve().parent.parent)
        st.button(_("Show the whole policy without a linked clause"), icon=":material/close:",
                  on_click=view.clear_focus)

# -- policy vs law: where the law asks more than the policy's text says ------------------------
as_of = D.as_of_for(store)
summary = ui.cached(D.summary, as_of=as_of)
beyond = ui.cached(PL.beyond_policy_view, as_of=as_of)
changed = ui.cached(PL.changed_view, as_of=as_of)
st.subheader(_("Policy vs law"), anchor="policy-vs-law")
st.caption(_("Version 1 of the compliance rules followed the policy's text; version 2 also "
             "follows the laws its promises rest on. Where the law asks more than the text "
             "says, a rule added in version 2 checks it: the policy's owner may want to say so "
             "in the policy. Results as of {when} (Asia/Shanghai).").format(
    when=fmt_datetime(summary["as_of"], zone=False) if zh
    else f"{summary['as_of']:%Y-%m-%d %H:%M}"))
with st.container(horizontal=True):
    st.metric(_("Compliance score"), D.percent_text(summary["overall"]), border=True,
              help=_("The overall score (Overview): the mean over clauses of the share of the "
                     "entities their rules apply to that break none of them."))
    st.metric(_("Clauses where the law asks more"), fmt_number(beyond["clause"].nunique()),
              border=True, help=_("Policy clauses with a rule that version 2 added, because "
                                  "the law asks more than the clause's text says."))
    st.metric(_("Findings of those rules"),
              fmt_number(int(beyond.drop_duplicates("rule_id")["findings"].fillna(0).sum())),
              border=True, help=_("Open findings of the rules added in version 2, each rule "
                                  "counted once."))
    st.metric(_("Rules version 2 changed"), fmt_number(len(changed)), border=True,
              help=_("Rules of version 1 whose scope version 2 changed."))
with st.expander(_("Where the law asks more than the policy says ({n} rules)").format(
        n=beyond["rule_id"].nunique()), expanded=not focus, icon=":material/gavel:"):
    if beyond.empty:
        st.info(_("No rule added in version 2 is loaded: every rule follows the policy's "
                  "text."), icon=":material/info:")
    else:
        view.law_beyond_list(PL.localized(beyond))
    st.markdown(_("**Rules version 2 changed**"))
    if changed.empty:
        st.caption(_("No rule of version 1 records a change in version 2."))
    else:
        view.changed_rules_table(PL.localized(changed))
    st.caption(_("Confidence of a legal source: ") + "; ".join(
        f"**{mark}** {_(meaning)}" for mark, meaning in Q.CONFIDENCE.items() if mark != "C")
        + _("."))
    if actor.may(exports.EXPORT_ACTION):
        name = PL.file_name(store.now())
        st.download_button(
            _("Download policy vs law (CSV)"),
            data=lambda n=name, a=as_of: PL.download_bytes(store, actor, as_of=a, name=n),
            file_name=name, mime=exports.CSV_MIME, on_click="ignore",
            icon=":material/download:", key="policy_law_download",
            help=_("Both lists, one row per clause and rule: the policy's text, what the law "
                   "asks, what changed, the legal source and the latest result, for the "
                   "policy's owner. The download is itself logged."))
    else:
        st.caption(_("Downloading it is for DPOs and auditors (permission: {permission}).").format(
            permission=_(ACTION_TITLES["export.download"])))

for row in clauses.itertuples(index=False):
    if row.clause == "0":
        st.markdown(view.clause_markdown(row, number=False))
        continue
    if not row.parent:
        st.header(f"{row.clause}. {title_of(row.clause)}", anchor=view.anchor(row.clause),
                  divider="gray")
        if row.body != row.title:
            st.markdown(view.clause_markdown(row, number=False))
        view.rule_badges(row.clause, rules)
        continue
    if row.clause == focus:
        with st.container(border=True):
            st.markdown(":orange-badge[:material/link: " + _("Linked clause") + "]")
            st.markdown(view.clause_markdown(row))
            view.rule_badges(row.clause, rules)
    else:
        st.markdown(view.clause_markdown(row))
        view.rule_badges(row.clause, rules)
