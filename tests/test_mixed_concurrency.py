"""Twenty writers of every kind at once, with readers running the engine: no error, every
write present, the audit trail intact (chain, signatures and every table's digest).

Writers: incidents logged, processors imported, findings acknowledged, exports written,
sign-ins; readers: the pages' evaluation (``check_summary``, ``findings_page``) and full
checks, over and over, while the registers change under them.
"""
from __future__ import annotations

import threading

import pytest

from dashboard import accounts, audit, dashboards, engine, exports, importer, remediation
from dashboard import incidents as inc
from dashboard.access import Actor

from conftest import ADMIN, AUDITOR, DPO

PER_WRITER = 6
PASSWORD = "a long and unusual pass phrase 7"


def _processors_csv(k: int, i: int) -> str:
    header = ("processor_id,name,kind,service,purpose,data_categories,storage_region,status,"
              "engaged_on,confidentiality_signed_on,nda_signed_on,agreement_expires_on,"
              "agreement_terms,pia_done_on,last_assessed_on,owner\r\n")
    return header + (f"PRC-C{k:02d}{i:02d},Concurrent {k}-{i},supplier,SMS codes,"
                     "identity_verification,phone,CN,active,2026-01-05,2026-01-05,,2027-06-30,"
                     "purpose;duration,,2026-06-01,li.na\r\n")


@pytest.mark.slow
def test_twenty_mixed_writers_and_readers(demo_store, tmp_path, cheap_hasher):
    store = demo_store
    for k in range(3):
        accounts.create_user(store, ADMIN, f"signer.{k}", "auditor", PASSWORD)
    as_of = dashboards.as_of_for(store)
    open_findings = engine.findings_page(store, as_of, limit=200)
    targets = list(zip(open_findings["rule_id"], open_findings["entity_id"]))
    before = {t: store.scalar(f"SELECT count(*) FROM {t}") for t in
              ("incidents", "processors", "remediation_plan_revisions", "audit_log")}
    errors: list[BaseException] = []
    written = {"incidents": 0, "processors": 0, "plans": 0, "exports": 0, "sign_ins": 0}
    guard = threading.Lock()
    stop = threading.Event()

    def count(kind: str) -> None:
        with guard:
            written[kind] += 1

    def incident_writer(k: int) -> None:
        actor = Actor(f"manager.{k}", "manager")
        for i in range(PER_WRITER):
            inc.log_incident(store, actor, {
                "title": f"Writer {k} incident {i}", "description": "Concurrent test.",
                "incident_type": "data_leak", "occurred_at": "2026-11-24 07:00",
                "detected_at": "2026-11-24 08:00", "affected_subjects": str(100 + i),
                "affected_sensitive_subjects": "0", "data_categories": ["name"],
                "systems_affected": "CRM"}, token=f"mixed-{k}-{i}")
            count("incidents")

    def import_writer(k: int) -> None:
        for i in range(PER_WRITER):
            path = tmp_path / f"p-{k}-{i}.csv"
            path.write_text(_processors_csv(k, i), encoding="utf-8")
            importer.import_file(store, DPO, "processors", path)
            count("processors")

    def acknowledger(k: int) -> None:
        mine = targets[k::4][:PER_WRITER]
        for rule_id, entity_id in mine:
            remediation.acknowledge(store, DPO, rule_id=rule_id, entity_id=entity_id,
                                    owner=f"owner.{k}", target_date="2026-12-31",
                                    comment=f"plan from writer {k}")
            count("plans")

    def exporter(k: int) -> None:
        for i in range(PER_WRITER):
            dataset = ("processors", "findings", "incidents")[i % 3]
            exports.export_file(store, AUDITOR, dataset, tmp_path / f"e-{k}-{i}.csv")
            count("exports")

    def signer(k: int) -> None:
        for _ in range(PER_WRITER):
            accounts.authenticate(store, f"signer.{k}", PASSWORD)
            count("sign_ins")

    def reader(k: int) -> None:
        while not stop.is_set():
            moment = dashboards.as_of_for(store)
            engine.check_summary(store, moment)
            engine.findings_page(store, moment, limit=20)
            dashboards.finding_stats(store, as_of=moment)
            if k == 0:
                engine.run_check(store)

    jobs = ([(incident_writer, k) for k in range(4)] + [(import_writer, k) for k in range(4)]
            + [(acknowledger, k) for k in range(4)] + [(exporter, k) for k in range(3)]
            + [(signer, k) for k in range(3)])
    readers = [(reader, k) for k in range(2)]
    assert len(jobs) + len(readers) == 20
    barrier = threading.Barrier(len(jobs) + len(readers))

    def run(fn, k):
        try:
            barrier.wait()
            fn(k)
        except BaseException as exc:   # noqa: BLE001 - collected and asserted on
            errors.append(exc)

    threads = [threading.Thread(target=run, args=job) for job in jobs + readers]
    for t in threads:
        t.start()
    for t in threads[:len(jobs)]:
        t.join(timeout=900)
    stop.set()
    for t in threads[len(jobs):]:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a session hung"
    assert errors == [], [repr(e) for e in errors[:5]]

    assert written == {"incidents": 24, "processors": 24, "plans": 24, "exports": 18,
                       "sign_ins": 18}
    after = {t: store.scalar(f"SELECT count(*) FROM {t}") for t in before}
    assert after["incidents"] == before["incidents"] + 24
    assert after["processors"] == before["processors"] + 24
    assert after["remediation_plan_revisions"] == before["remediation_plan_revisions"] + 24
    # one audit entry per write: 24 + 24 + 24 + 18 exports + 18 sign-ins
    assert after["audit_log"] == before["audit_log"] + 108
    result = audit.verify(store)
    assert result.ok, result.problems
    assert result.tables_checked > 10
