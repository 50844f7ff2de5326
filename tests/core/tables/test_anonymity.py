"""Reaching k-anonymity (issue 12 item 22): generalise along the analyst's bands, suppress the
rows still in groups below k, write a protected copy; checked against group sizes worked out
by hand."""

from __future__ import annotations

import pytest

from core.errors import SchemaError
from core.tables import PersonalMark, k_anonymity, load_marks, reach_k
from core.warehouse import OutputTableError, connect, list_tables, original_names

PEOPLE = [  # (name, age, postcode, gender, spend)
    ("Ann", 23, "SW1A 1AA", "F", 10), ("Bea", 27, "SW1A 2BB", "F", 20),
    ("Cat", 29, "SW1B 3CC", "F", 30), ("Dan", 31, "EC1A 1BB", "M", 40),
    ("Eli", 35, "EC1A 9ZZ", "M", 50), ("Fox", 38, "EC1V 2AA", "M", 60),
    ("Gil", 41, "SW1A 4DD", "F", 70), ("Hal", 45, "N1 9GU", "M", 80),
    ("Ivy", 52, "EC1A 7QQ", "M", 90), ("Jon", 58, "EC2A 1AA", "M", 100),
]
# With ages in bands of 10 and postcodes cut to 3 characters, the groups over
# (age, postcode, gender) are, by hand:
#   20-29 SW1* F: Ann, Bea, Cat (3)      30-39 EC1* M: Dan, Eli, Fox (3)
#   40-49 SW1* F: Gil (1)   40-49 N1 * M: Hal (1)   50-59 EC1* M: Ivy (1)   50-59 EC2* M: Jon (1)
MARKS = [PersonalMark("name", "pseudonymise"), PersonalMark("age", "generalise", 10),
         PersonalMark("postcode", "generalise", 3)]
QI = ["age", "postcode", "gender"]


@pytest.fixture
def people(settings):
    with connect(settings) as con:
        con.execute("CREATE TABLE people (name VARCHAR, age BIGINT, postcode VARCHAR, "
                    "gender VARCHAR, spend BIGINT)")
        con.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)", PEOPLE)
    return settings


def test_reach_k_generalises_then_suppresses_the_small_groups(people):
    with connect(people) as con:
        assert k_anonymity(con, "people", QI, 2).k == 1  # every raw row is unique
        planned = k_anonymity(con, "people", QI, 2, MARKS)  # what reach_k will suppress
        r = reach_k(con, people, "people", QI, 2, MARKS)
        rows = con.execute("SELECT name, age, postcode, gender, spend FROM people_protected"
                           ).fetchall()
        measured = k_anonymity(con, "people_protected", QI, 2)
        source = next(t.source for t in list_tables(con) if t.table == "people_protected")
        marks = load_marks(con, "people")
    assert (r.table, r.k, r.k_before_suppression, r.k_reached) == ("people_protected", 2, 1, 3)
    assert (r.rows_before, r.rows_suppressed, r.rows_written) == (10, 4, 6)
    assert (r.groups, r.groups_suppressed) == (2, 4)
    assert r.generalised == {"age": "bands of 10", "postcode": "first 3 characters",
                             "gender": "as is"}
    assert [row[1:] for row in rows] == [  # source order kept, spend untouched
        ("20-29", "SW1*", "F", 10), ("20-29", "SW1*", "F", 20), ("20-29", "SW1*", "F", 30),
        ("30-39", "EC1*", "M", 40), ("30-39", "EC1*", "M", 50), ("30-39", "EC1*", "M", 60)]
    assert all(row[0].startswith("p_") for row in rows)
    assert (measured.k, measured.groups, measured.rows_at_risk) == (3, 2, 0)
    assert (planned.k, planned.groups, planned.rows_at_risk, planned.groups_at_risk) == (
        1, 6, 4, 4)
    assert source == "protected copy, 2-anonymous over age, postcode, gender (4 rows " \
                     "suppressed) from people"
    assert r.notes == ("40% of the rows were suppressed; wider bands (or fewer "
                       "quasi-identifiers) keep more of them.",
                       "gender is grouped by exact value; generalising it (mark 'generalise' "
                       "with a band) would suppress fewer rows.")
    assert sorted(m.column for m in marks) == ["age", "name", "postcode"]


def test_wider_bands_suppress_fewer_rows(people):
    wide = [PersonalMark("age", "generalise", 20), PersonalMark("postcode", "generalise", 1)]
    with connect(people) as con:
        r = reach_k(con, people, "people", QI, 2, wide, out="people_wide")
    # bands 20-39 / 40-59 and the first letter: 20-39 S F (3), 20-39 E M (3), 40-59 S F (1),
    # 40-59 N M (1), 40-59 E M (2): Gil and Hal are suppressed
    assert (r.rows_suppressed, r.rows_written, r.k_reached, r.groups) == (2, 8, 2, 3)


def test_reach_k_refuses_clearly_and_writes_nothing(people):
    with connect(people) as con:
        with pytest.raises(SchemaError, match="No group over age, postcode, gender reaches 4"):
            reach_k(con, people, "people", QI, 4, MARKS)
        with pytest.raises(SchemaError, match="age is marked to be dropped"):
            reach_k(con, people, "people", QI, 2, [PersonalMark("age", "drop")])
        with pytest.raises(SchemaError, match="k must be a whole number between 2 and 1000"):
            reach_k(con, people, "people", QI, 1, MARKS)
        with pytest.raises(SchemaError, match="has no column\\(s\\) zip"):
            reach_k(con, people, "people", ["zip"], 2, MARKS)
        with pytest.raises(SchemaError, match="at least one quasi-identifier"):
            reach_k(con, people, "people", [], 2, MARKS)
        with pytest.raises(OutputTableError, match="computed from"):
            reach_k(con, people, "people", QI, 2, MARKS, out="PEOPLE")
        assert [t.table for t in list_tables(con)] == ["people"]
        reach_k(con, people, "people", QI, 2, MARKS)
        with pytest.raises(OutputTableError, match="already exists"):
            reach_k(con, people, "people", QI, 3, MARKS)
        r = reach_k(con, people, "people", QI, 3, MARKS, replace=True)
        assert r.k_reached == 3 and original_names(con, "people_protected")["age"] == "age"
