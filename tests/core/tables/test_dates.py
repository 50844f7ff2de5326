"""Dates written as text (issue 12 item 13): ingest says when a column mixes date formats, the
profile flags text columns of dates with how each day/month order reads them, and the readings
name the values that cannot be read."""

from __future__ import annotations

from core.ingest import ingest_file
from core.tables import column_date_readings, profile_table


def _csv(tmp_path, rows: list[str]):
    path = tmp_path / "visits.csv"
    path.write_text("id,seen,visit\n" + "\n".join(rows) + "\n")
    return path


def test_mixed_formats_are_noted_at_ingest_and_in_the_profile(con, tmp_path):
    # the first 500 rows (what ingest looks at first) are ISO dates; 10 later ones are not
    rows = [f"{i},2024-01-{i % 28 + 1:02d},03/04/2024" for i in range(500)]
    rows += [f"{500 + i},15 Jan 2024,05/06/2024" for i in range(10)]
    report = ingest_file(con, _csv(tmp_path, rows))
    types = {c.name: c.type for c in report.columns}
    assert (types["seen"], types["visit"]) == ("VARCHAR", "VARCHAR")
    assert ("'seen' mixes date formats: 500 of 510 values are dates written yyyy-mm-dd, "
            "dd/mm/yyyy or dd.mm.yyyy, the other 10 another way; it was kept as text. Convert "
            "it in Prepare (date parts) choosing day-first or month-first.") in report.warnings
    p = profile_table(con, report.table)
    seen = next(c for c in p.columns if c.name == "seen")
    visit = next(c for c in p.columns if c.name == "visit")
    assert (seen.dates_as_text.values, seen.dates_as_text.day_first,
            seen.dates_as_text.iso) == (510, 500, 500)
    assert visit.warnings == (
        "'visit' holds dates written as text whose day/month order is not certain or whose "
        "formats are mixed (day-first reads 510 of 510 values, month-first 510). To use them, "
        "add a Prepare step 'date parts' and choose day-first or month-first.",)
    assert next(c for c in p.columns if c.name == "id").dates_as_text is None


def test_readings_count_each_order_and_name_unreadable_values(con):
    con.execute("CREATE TABLE d AS SELECT * FROM (VALUES ('25/12/2023'), ('12/25/2023'), "
                "('2024-02-29 10:30:00'), ('31/02/2024'), (''), (NULL), ('1/2/24')) v(d)")
    r = column_date_readings(con, "d", "d")
    # day-first: 25/12/2023, the ISO timestamp, 1/2/24 (1 Feb 2024); 31/02 is no date
    assert (r.values, r.day_first, r.month_first, r.iso) == (5, 3, 3, 1)
    assert r.unparsed_day_first == ("12/25/2023", "31/02/2024")
    assert r.unparsed_month_first == ("25/12/2023", "31/02/2024")
    assert r.looks_like_dates and r.suggested == "day_first"
    con.execute("CREATE TABLE words AS SELECT 'soon' AS d")
    assert not column_date_readings(con, "words", "d").looks_like_dates
