"""The importer and the columns of rules version 2 (migration 0010).

Files written for version 1 (without the new columns) still import; the new columns take
their values from CSV, Parquet and Excel: ``economic_loss_cny`` an amount in yuan (NUMBER,
DECIMAL(18,2): at most two decimals, never rounded), three booleans, a timestamp and a text.
"""
from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboard import registers as R
from dashboard.importer import ImportRejected, commit_import, import_file, stage_file

from conftest import DPO, SYSTEM
from test_import import (
    INC_HEADER, PROC_HEADER, SHARE_HEADER, counts, csv_text, inc, proc, share, write,
)
from test_import_files import workbook

UTC = dt.timezone.utc
Dec = decimal.Decimal

V2_SHARING = ("pia_done_on",)
V2_INCIDENTS = ("pi_authority_notified_at", "user_notice_exemption", "suspected_crime",
                "cii_involved", "important_data_involved", "economic_loss_cny")
ALL_TERMS = ("purpose;duration;method;categories;protection_measures;rights_obligations;"
             "return_or_delete;no_subentrust")


def v1(header: list[str], row: list, drop: tuple[str, ...]) -> tuple[list[str], list]:
    """A header and row as a version 1 file has them: without the v2 columns."""
    keep = [i for i, c in enumerate(header) if c not in drop]
    return [header[i] for i in keep], [row[i] for i in keep]


def loss_file(values: list) -> str:
    return csv_text(INC_HEADER, [inc(f"INC-2026-{i + 1:04d}", economic_loss_cny=v)
                                 for i, v in enumerate(values)])


def parquet_incidents(tmp_path, column: pa.Array, name: str = "economic_loss_cny", **extra):
    n = len(column)
    table = pa.table({
        "incident_id": [f"INC-2026-{i + 1:04d}" for i in range(n)], "title": ["t"] * n,
        "incident_type": ["data_leak"] * n, "grade": ["general"] * n,
        "detected_at": ["2026-03-01T09:30:00+08:00"] * n, "status": ["open"] * n,
        name: column, **extra,
    })
    path = tmp_path / "incidents.parquet"
    pq.write_table(table, path)
    return path


def losses(store) -> list:
    return [r[0] for r in store.rows("SELECT economic_loss_cny FROM incidents "
                                     "ORDER BY incident_id")]


# -- files written for version 1 -----------------------------------------------------------

def test_the_contract_columns_of_version_2_are_in_the_registers():
    assert set(V2_SHARING) <= set(R.SHARING_AGREEMENTS.column_names)
    assert set(V2_INCIDENTS) <= set(R.INCIDENTS.column_names)
    assert R.INCIDENTS.column("economic_loss_cny").type == R.NUMBER
    assert "rights_obligations" in R.AGREEMENT_TERMS


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_version_1_files_still_import(store, tmp_path, fmt):
    """Processors, sharing agreements and incidents as version 1 wrote them: the new
    columns are optional, left out, and stored as null (not recorded)."""
    files = {
        # processors gained no column: a v1 file is the full v1 header with the six terms
        "processors": (PROC_HEADER, [proc("PRC-0001"), proc("PRC-0002", pia_done_on=None)]),
        "sharing_agreements": (
            v1(SHARE_HEADER, share(), V2_SHARING)[0],
            [v1(SHARE_HEADER, share(a), V2_SHARING)[1] for a in ("SHA-0001", "SHA-0002")]),
        "incidents": (
            v1(INC_HEADER, inc(), V2_INCIDENTS)[0],
            [v1(INC_HEADER, inc(i, affected_subjects="1200", grade="relatively_major",
                                regulator_reported_at="2026-03-01T11:00:00+08:00"),
                V2_INCIDENTS)[1] for i in ("INC-2026-0001", "INC-2026-0002")]),
    }
    for table, (header, rows) in files.items():
        new = {"sharing_agreements": V2_SHARING, "incidents": V2_INCIDENTS}.get(table, ())
        assert not set(header) & set(new)
        if fmt == "csv":
            path = write(tmp_path, f"{table}.csv", csv_text(header, rows))
        else:
            path = tmp_path / f"{table}.parquet"
            pq.write_table(pa.table({c: pa.array([r[i] for r in rows], pa.string())
                                     for i, c in enumerate(header)}), path)
        staged = stage_file(store, table, path)
        assert staged.ok, [str(e) for e in staged.errors]
        assert set(new) <= set(staged.missing_columns)
        assert import_file(store, SYSTEM, table, path).rows_written == 2
    assert store.rows("SELECT count(*), count(pia_done_on) FROM sharing_agreements") == [(2, 0)]
    assert store.rows(f"SELECT count(*), {', '.join(f'count({c})' for c in V2_INCIDENTS)} "
                      f"FROM incidents") == [(2, 0, 0, 0, 0, 0, 0)]
    assert store.rows("SELECT agreement_terms FROM processors ORDER BY 1 LIMIT 1") == [(
        ["purpose", "duration", "method", "categories", "protection_measures",
         "return_or_delete"],)]


def test_agreement_terms_accept_rights_obligations(store, tmp_path):
    path = write(tmp_path, "p.csv", csv_text(PROC_HEADER, [proc(agreement_terms=ALL_TERMS)]))
    import_file(store, SYSTEM, "processors", path)
    assert store.scalar("SELECT agreement_terms FROM processors") == ALL_TERMS.split(";")
    bad = stage_file(store, "processors", csv_text(PROC_HEADER, [proc(
        "PRC-0002", agreement_terms="purpose;rights_and_obligations")]).encode(), "p.csv")
    (err,) = bad.errors
    assert err.column == "agreement_terms"
    assert '"rights_and_obligations" is not allowed in agreement_terms' in err.reason
    assert "rights_obligations" in err.reason            # the allowed items are listed


def test_sharing_pia_done_on_is_a_date(store, tmp_path):
    rows = [share("SHA-0001", pia_done_on="2024-12-20"), share("SHA-0002", pia_done_on=" "),
            share("SHA-0003", pia_done_on="2025-01-10")]
    import_file(store, SYSTEM, "sharing_agreements",
                write(tmp_path, "s.csv", csv_text(SHARE_HEADER, rows)))
    assert store.rows("SELECT pia_done_on FROM sharing_agreements ORDER BY 1 NULLS LAST") == [
        (dt.date(2024, 12, 20),), (dt.date(2025, 1, 10),), (None,)]


# -- economic_loss_cny from CSV text ---------------------------------------------------------

def test_amounts_in_plain_decimal_text_are_stored_exactly(store, tmp_path):
    values = ["1250000", "1250000.50", "1250000.5", "0", " 30000000 ", "", "100000000.00",
              "1250000.500", "9999999999999999.99", "+12", "0.01", "007.10"]
    import_file(store, SYSTEM, "incidents", write(tmp_path, "i.csv", loss_file(values)))
    assert losses(store) == [Dec("1250000"), Dec("1250000.5"), Dec("1250000.5"), Dec("0"),
                             Dec("30000000"), None, Dec("100000000"), Dec("1250000.5"),
                             Dec("9999999999999999.99"), Dec("12"), Dec("0.01"), Dec("7.1")]
    # stored as DECIMAL(18,2), not as a float
    assert store.scalar("SELECT typeof(economic_loss_cny) FROM incidents LIMIT 1") \
        == "DECIMAL(18,2)"


BAD_AMOUNTS = [
    # value, reason fragment
    ("1,250,000", 'not an amount: expected digits with at most two decimals after a point, '
                  'e.g. 1250000 or 1250000.50 (did you mean "1250000"? no thousands '
                  'separators, currency signs or exponents)'),
    ("1,250,000.50", 'did you mean "1250000.50"?'),
    ("¥1250000", 'did you mean "1250000"?'),
    ("1250000元", 'did you mean "1250000"?'),
    ("1.25e6", 'did you mean "1250000"?'),
    ("125万", "not an amount: expected digits"),
    ("about a million", "not an amount: expected digits"),
    (".5", "not an amount"),
    ("1250000.", "not an amount"),
    ("1.2.3", "not an amount"),
    ("-500", "negative; expected an amount of 0 or more"),
    ("-0.01", "negative; expected an amount of 0 or more"),
    ("1250000.505", "more than two decimals: amounts are recorded to the fen (0.01 yuan); "
                    "round the value in the file (the import never rounds)"),
    ("0.001", "more than two decimals"),
    ("12345678901234567", "too large for an amount (at most 9999999999999999.99)"),
]


@pytest.mark.parametrize("value, reason", BAD_AMOUNTS, ids=[b[0] for b in BAD_AMOUNTS])
def test_a_bad_amount_is_named_and_nothing_is_written(store, tmp_path, value, reason):
    path = write(tmp_path, "i.csv", loss_file(["1250000", value]))
    before = counts(store, "incidents")
    with pytest.raises(ImportRejected) as info:
        import_file(store, SYSTEM, "incidents", path)
    (err,) = info.value.errors
    assert (err.line, err.column, err.value) == (3, "economic_loss_cny", value)
    assert reason in err.reason
    assert str(err).startswith(f'line 3, column economic_loss_cny, value "{value}": ')
    assert counts(store, "incidents") == before


def test_every_bad_amount_of_a_file_is_listed(store):
    staged = stage_file(store, "incidents", loss_file(
        ["1", "1,000", "2", "-3", "4.567", "5"]).encode(), "i.csv")
    assert [(e.line, e.value) for e in staged.errors] == [(3, "1,000"), (5, "-3"),
                                                          (6, "4.567")]


# -- economic_loss_cny from Parquet ----------------------------------------------------------

@pytest.mark.parametrize("column, expected", [
    (pa.array([0, 30_000_000, None], pa.int64()), [Dec(0), Dec(30_000_000), None]),
    (pa.array([5_000_000, 7], pa.uint32()), [Dec(5_000_000), Dec(7)]),
    (pa.array([1250000.5, 0.1, 5e6, 1250000.55, None], pa.float64()),
     [Dec("1250000.5"), Dec("0.1"), Dec(5_000_000), Dec("1250000.55"), None]),
    (pa.array([2.5], pa.float32()), [Dec("2.5")]),
    (pa.array([Dec("1250000.50"), Dec("0.07")], pa.decimal128(12, 2)),
     [Dec("1250000.5"), Dec("0.07")]),
    (pa.array([Dec("1.2500"), Dec("20000000.0000")], pa.decimal128(20, 4)),
     [Dec("1.25"), Dec(20_000_000)]),
    (pa.array([Dec("100000000")], pa.decimal128(38, 0)), [Dec(100_000_000)]),
    (pa.array(["1250000.50", None, "3"], pa.string()), [Dec("1250000.5"), None, Dec(3)]),
], ids=["int64", "uint32", "float64", "float32", "decimal-12-2", "decimal-20-4",
        "decimal-38-0", "string"])
def test_parquet_amounts_of_any_numeric_type(store, tmp_path, column, expected):
    path = parquet_incidents(tmp_path, column)
    staged = stage_file(store, "incidents", path)
    assert staged.ok, [str(e) for e in staged.errors]
    import_file(store, SYSTEM, "incidents", path)
    assert losses(store) == expected


@pytest.mark.parametrize("column, row, shown, reason", [
    (pa.array([1.0, 1.234]), 2, "1.234", "more than two decimals"),
    (pa.array([1250000.555]), 1, "1250000.555", "more than two decimals"),
    (pa.array([float("nan")]), 1, "nan", "not a finite number (NaN or infinity)"),
    (pa.array([1.0, float("inf")]), 2, "inf", "not a finite number"),
    (pa.array([-2.0]), 1, "-2.0", "negative; expected an amount of 0 or more"),
    (pa.array([1e20]), 1, "1e+20", "too large for an amount"),
    (pa.array([3, -1], pa.int64()), 2, "-1", "negative"),
    (pa.array([10 ** 17], pa.int64()), 1, "100000000000000000", "too large for an amount"),
    (pa.array([Dec("1.005")], pa.decimal128(10, 3)), 1, "1.005", "more than two decimals"),
    (pa.array([Dec("-1.00")], pa.decimal128(10, 2)), 1, "-1.00", "negative"),
    (pa.array([Dec("123456789012345678")], pa.decimal128(38, 0)), 1, "123456789012345678",
     "too large"),
    (pa.array(["1,000"], pa.string()), 1, "1,000", 'did you mean "1000"?'),
], ids=["float-3-decimals", "float-fen-and-a-half", "nan", "inf", "negative-float",
        "huge-float", "negative-int", "huge-int", "decimal-3", "negative-decimal",
        "huge-decimal", "string-with-separator"])
def test_parquet_amounts_are_refused_rather_than_rounded(store, tmp_path, column, row, shown,
                                                         reason):
    path = parquet_incidents(tmp_path, column)
    before = counts(store, "incidents")
    with pytest.raises(ImportRejected) as info:
        import_file(store, SYSTEM, "incidents", path)
    (err,) = info.value.errors
    assert (err.unit, err.line, err.column, err.value) == ("row", row, "economic_loss_cny",
                                                           shown)
    assert reason in err.reason
    assert counts(store, "incidents") == before


def test_a_nested_parquet_amount_is_refused_by_its_type(store, tmp_path):
    path = parquet_incidents(tmp_path, pa.array([[1, 2]], pa.list_(pa.int64())))
    (err,) = stage_file(store, "incidents", path).errors
    assert err.line is None and err.column == "economic_loss_cny"
    assert "cannot hold an amount (a decimal number)" in err.reason


# -- economic_loss_cny from Excel ---------------------------------------------------------------

def test_workbook_amounts(store):
    header = ["incident_id", "title", "incident_type", "grade", "detected_at", "status",
              "economic_loss_cny"]
    base = ["t", "data_leak", "general", "2026-03-01T09:30:00+08:00", "open"]
    rows = [header, ["INC-1", *base, 30_000_000], ["INC-2", *base, 1250000.5],
            ["INC-3", *base, "1250000.50"], ["INC-4", *base, 1e15], ["INC-5", *base, None]]
    staged = stage_file(store, "incidents", workbook(rows), "i.xlsx")
    assert staged.ok, [str(e) for e in staged.errors]
    bad = stage_file(store, "incidents", workbook(
        [header, ["INC-6", *base, 1.234], ["INC-7", *base, 1e20]]), "i.xlsx")
    assert [(e.unit, e.line, e.value) for e in bad.errors] == [
        ("row", 2, "1.234"), ("row", 3, "100000000000000000000")]
    assert "more than two decimals" in bad.errors[0].reason
    assert "too large for an amount" in bad.errors[1].reason
    commit_import(store, DPO, staged)
    assert [r[0] for r in store.rows("SELECT economic_loss_cny FROM incidents ORDER BY 1 "
                                     "NULLS LAST")] == [
        Dec("1250000.5"), Dec("1250000.5"), Dec(30_000_000), Dec(10 ** 15), None]


# -- the other new incident columns -----------------------------------------------------------

def test_new_booleans_timestamp_and_exemption_text(store, tmp_path):
    exemption = ("数据已加密（AES-256），密钥未泄露, so the measures taken effectively avoid "
                 "harm\n(PIPL Art. 57 para. 2); 见处置报告 IR-7")
    rows = [
        inc("INC-2026-0001", suspected_crime="true", cii_involved="FALSE",
            important_data_involved=" True ", pi_authority_notified_at="2026-03-01T10:30:00",
            user_notice_exemption=exemption, economic_loss_cny="30000000"),
        inc("INC-2026-0002", suspected_crime="false", cii_involved="true",
            important_data_involved="", pi_authority_notified_at="2026-03-01T02:30:00Z",
            user_notice_exemption="'=not a formula"),
        inc("INC-2026-0003"),
    ]
    import_file(store, SYSTEM, "incidents", write(tmp_path, "i.csv", csv_text(INC_HEADER, rows)))
    got = store.rows("SELECT suspected_crime, cii_involved, important_data_involved, "
                     "pi_authority_notified_at, user_notice_exemption, economic_loss_cny "
                     "FROM incidents ORDER BY incident_id")
    at = dt.datetime(2026, 3, 1, 2, 30, tzinfo=UTC)        # 10:30 Shanghai time
    assert got == [(True, False, True, at, exemption, Dec(30_000_000)),
                   (False, True, None, at, "=not a formula", None),
                   (None, None, None, None, None, None)]


def test_parquet_native_booleans_and_timestamp(store, tmp_path):
    path = parquet_incidents(
        tmp_path, pa.array([True, None]), name="suspected_crime",
        cii_involved=pa.array([False, True]),
        important_data_involved=pa.array([None, True], pa.bool_()),
        pi_authority_notified_at=pa.array([dt.datetime(2026, 3, 1, 2, 0, tzinfo=UTC), None],
                                          pa.timestamp("us", tz="UTC")),
        user_notice_exemption=pa.array([None, "Encrypted backup; key not exposed"]))
    import_file(store, SYSTEM, "incidents", path)
    assert store.rows("SELECT suspected_crime, cii_involved, important_data_involved, "
                      "pi_authority_notified_at, user_notice_exemption FROM incidents "
                      "ORDER BY incident_id") == [
        (True, False, None, dt.datetime(2026, 3, 1, 2, 0, tzinfo=UTC), None),
        (None, True, True, None, "Encrypted backup; key not exposed")]


@pytest.mark.parametrize("column", ["suspected_crime", "cii_involved",
                                    "important_data_involved"])
def test_a_bad_new_boolean_is_named(store, column):
    staged = stage_file(store, "incidents", csv_text(INC_HEADER, [
        inc("INC-1"), inc("INC-2", **{column: "1"})]).encode(), "i.csv")
    (err,) = staged.errors
    assert (err.line, err.column, err.value) == (3, column, "1")
    assert err.reason == "not a boolean: expected true or false"


def test_an_exemption_over_its_limit_is_refused(store):
    limit = R.INCIDENTS.column("user_notice_exemption").max_length
    staged = stage_file(store, "incidents", csv_text(INC_HEADER, [
        inc("INC-1", user_notice_exemption="免" * limit),
        inc("INC-2", user_notice_exemption="免" * (limit + 1))]).encode(), "i.csv")
    (err,) = staged.errors
    assert (err.line, err.column) == (3, "user_notice_exemption")
    assert err.reason == (f"text is {limit + 1:,} characters long; the limit for "
                          f"user_notice_exemption is {limit:,}")
