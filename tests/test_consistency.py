"""Numbers that cannot disagree: one "within N days", one "now", one snapshot per evaluation.

- the Overview's, the Retention page's and `check`'s counts of records due within the
  due-soon horizon are the same figure on the demo store, boundary day included;
- "today" is the current moment in `check`, the Findings export and the audit pack: an
  incident detected an hour ago has its 4 h regulator deadline due, not missed;
- a plan saved now shows at once, not after the next minute.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

import pytest

from dashboard import dashboards, engine, exports, incidents, queries, remediation
from dashboard.cli import main as cli_main
from dashboard.settings import Settings
from dashboard.store import Store

from conftest import AUDITOR, DPO, MANAGER, SHANGHAI, SYSTEM, make_store


def test_due_within_the_horizon_is_one_figure_everywhere(demo_store):
    store = demo_store
    soon = int(store.settings.due_soon_days)
    as_of = dashboards.as_of_for(store)
    groups = dashboards.due_groups(store, as_of=as_of)
    overview = int(groups[(groups["group"] == "deletion") & (groups["horizon"] == soon)]
                   ["due"].iloc[0])
    retention = queries.retention_summary(store, as_of=store.now().date())["kpis"]["due"]
    result = engine.run_check(store)
    checked = int((result.due["rule_id"] == "RET-OVERDUE").sum())
    assert overview == retention == checked
    assert overview > 0
    # the boundary: the last day of the horizon is in, whatever the hour of "now"
    last_day = store.now().date() + dt.timedelta(days=soon)
    on_last_day = store.scalar(
        "SELECT count(*) FROM retention_due WHERE due_on = ? AND deleted_on IS NULL "
        "AND hold_reason IS NULL", [last_day])
    after = store.scalar(
        "SELECT count(*) FROM retention_due WHERE due_on = ? AND deleted_on IS NULL "
        "AND hold_reason IS NULL", [last_day + dt.timedelta(days=1)])
    due_days = {pd_day.date() for pd_day in result.due[result.due["rule_id"] ==
                                                       "RET-OVERDUE"]["due_at"]}
    assert (last_day in due_days) == (on_last_day > 0)
    assert (last_day + dt.timedelta(days=1)) not in due_days or after == 0


def test_due_horizon_is_the_close_of_day_n():
    now = dt.datetime(2026, 11, 24, 1, 17, tzinfo=SHANGHAI)
    assert engine.due_horizon(now, 30) == dt.datetime(2026, 12, 24, 23, 59, 59, 999999,
                                                      tzinfo=SHANGHAI)
    assert engine.due_horizon(now, 0).date() == now.date()
    # a UTC moment still counts Shanghai days: 2026-11-23 17:17 UTC is the 24th there
    assert engine.due_horizon(now.astimezone(dt.timezone.utc), 7, SHANGHAI).date() == \
        dt.date(2026, 12, 1)
    assert engine.due_horizon_date(dt.date(2026, 11, 24), 30) == dt.date(2026, 12, 24)
    with pytest.raises(ValueError, match="whole number"):
        engine.due_horizon(now, -1)


# -- "today" means now --------------------------------------------------------------------

DETECTED = dt.datetime(2026, 11, 24, 0, 59, tzinfo=SHANGHAI)
NOW = DETECTED + dt.timedelta(hours=1)            # 01:59 Shanghai: the deadline is 04:59


@pytest.fixture
def one_hour_in(tmp_path):
    path = tmp_path / "now.duckdb"
    s = make_store(path, clock=lambda: NOW)
    incidents.log_incident(s, MANAGER, {
        "title": "Customer database exposed", "description": "A test copy of the CRM.",
        "incident_type": "data_leak", "occurred_at": "2026-11-24 00:30",
        "detected_at": DETECTED.isoformat(), "affected_subjects": "1,200,000",
        "affected_sensitive_subjects": "300", "data_categories": ["name", "phone"],
        "systems_affected": "CRM test copy"})
    s.close()
    return path


def _regulator_rows(rows):
    return [r for r in rows if r["rule_id"] == "INC-REGULATOR-DEADLINE"]


def test_check_as_of_today_shows_the_deadline_due_not_missed(one_hour_in, monkeypatch):
    monkeypatch.setattr(Store, "now", lambda self: NOW.astimezone(self.tz))
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["--db", str(one_hour_in), "check", "--as-of", "2026-11-24",
                     "--format", "json", "--no-snapshot"], out, err)
    assert code == 0, err.getvalue()
    assert _regulator_rows(json.loads(out.getvalue())) == []        # not a finding
    out = io.StringIO()
    cli_main(["--db", str(one_hour_in), "check", "--as-of", "2026-11-24", "--limit", "0",
              "--no-snapshot"], out, err)
    text = out.getvalue()
    assert "Compliance check as of 2026-11-24 01:59:00" in text
    due = [line for line in text.splitlines() if "INC-REGULATOR-DEADLINE" in line]
    assert any("2026-11-24 04:59" in line for line in due), text
    assert "passed" not in " ".join(due)
    # a future date is refused, exit 2, nothing written
    code = cli_main(["--db", str(one_hour_in), "check", "--as-of", "2026-11-25"],
                    io.StringIO(), err := io.StringIO())
    assert code == 2 and "in the future" in err.getvalue()


def test_findings_export_and_pack_as_of_today_are_now(one_hour_in, tmp_path):
    s = Store(one_hour_in, settings=Settings(), clock=lambda: NOW)
    try:
        out = tmp_path / "findings.csv"
        exports.export_file(s, AUDITOR, "findings", out, {"as_of": "2026-11-24"})
        with open(out, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert _regulator_rows(rows) == []
        assert not any("passed" in r["detail"] and "INC-" in r["rule_id"] for r in rows)
        pack = tmp_path / "pack.zip"
        exports.build_pack(s, AUDITOR, [("findings", {})], pack)
        with zipfile.ZipFile(pack) as zf:
            text = zf.read("findings.csv").decode("utf-8-sig")
        assert "INC-REGULATOR-DEADLINE" not in text
        with pytest.raises(exports.ExportError, match="in the future"):
            exports.export_file(s, AUDITOR, "findings", tmp_path / "f2.csv",
                                {"as_of": "2026-11-25"})
    finally:
        s.close()


def test_at_the_deadline_the_finding_appears(one_hour_in, monkeypatch):
    later = DETECTED + dt.timedelta(hours=4, minutes=1)
    s = Store(one_hour_in, settings=Settings(), clock=lambda: later)
    try:
        result = engine.run_check(s, "2026-11-24")
        assert list(result.findings[result.findings["rule_id"] ==
                                    "INC-REGULATOR-DEADLINE"]["entity_type"]) == ["incident"]
    finally:
        s.close()


def test_a_plan_saved_now_shows_at_once(demo_store):
    store = demo_store
    clock = {"now": store.now()}
    store.clock = lambda: clock["now"]
    as_of = dashboards.as_of_for(store)
    first = dashboards.findings_rows(store, as_of=as_of, filters={"plan": ["unplanned"]})
    target = first.iloc[0]
    clock["now"] = clock["now"] + dt.timedelta(seconds=30)        # within the same minute
    remediation.acknowledge(store, DPO, rule_id=target["rule_id"],
                            entity_id=target["entity_id"],
                            owner="li.na", target_date=store.now().date() + dt.timedelta(days=7),
                            comment="on it")
    as_of_after = dashboards.as_of_for(store)
    assert as_of_after != as_of
    planned = dashboards.finding_stats(store, as_of=as_of_after,
                                       filters={"entity": target["entity_id"],
                                                "rule": [target["rule_id"]]})
    assert planned["planned"] == 1 and planned["unplanned"] == 0


# -- the incident page's clocks and `check` are one reading (rules version 2) ----------------
@pytest.mark.parametrize("after", [
    dt.timedelta(hours=1),                                  # everything due
    dt.timedelta(hours=4),                                  # police: at the deadline, due
    dt.timedelta(hours=4, seconds=1),                       # police: a finding
    dt.timedelta(hours=24),                                 # 24 h notices: at the deadline
    dt.timedelta(hours=24, seconds=1),                      # 24 h notices: findings
])
def test_the_incident_clocks_and_check_agree_to_the_second(one_hour_in, after):
    """The page (clocks.py), the list (its SQL) and the engine's INC-* rules give each clock
    of one incident the same state at the boundary seconds of the v2 deadlines."""
    s = Store(one_hour_in, settings=Settings(), clock=lambda: NOW)
    try:
        [iid] = [r[0] for r in s.rows("SELECT incident_id FROM incidents")]
        incidents.record_step(s, MANAGER, iid, "grading_facts", {"suspected_crime": True})
        moment = DETECTED + after
        s.clock = lambda: moment
        result = engine.run_check(s, moment)
        found = set(zip(result.findings["rule_id"], result.findings["entity_id"]))
        due = {(r, e): t for r, e, t in zip(result.due["rule_id"], result.due["entity_id"],
                                            result.due["due_at"])}
        row = incidents.incident_record(s, iid).row
        listed = incidents.list_incidents(s, now=moment).iloc[0]
        from dashboard import clocks as clk
        for c in clk.incident_clocks(row, s.settings, moment):
            assert ((c.rule_id, iid) in found) == (c.state in (clk.OVERDUE, clk.LATE)), \
                (after, c.key, c.state)
            assert ((c.rule_id, iid) in due) == (c.state == clk.DUE), (after, c.key, c.state)
            if c.state == clk.DUE:
                assert due[(c.rule_id, iid)] == c.deadline
            assert listed[f"{c.key}_state"] == c.state
    finally:
        s.close()
