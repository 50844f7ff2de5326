"""Scenario plumbing: policy sandbox, saved scenarios, targeted list, populations, credit view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import QueryError, SimulationError
from core.impact import (
    Decision,
    ScenarioInputs,
    bad_class_meaning,
    compare_scenarios,
    credit_view,
    delete_scenario,
    describe_population,
    id_columns,
    list_scenarios,
    load_population,
    save_scenario,
    simulate_population,
    simulate_scenario,
    targeted_list,
    write_targeted_table,
)
from core.impact._scenarios import Population
from core.runs import load_run_config
from core.specs import Economics
from core.warehouse import (
    PolicyRuleError,
    connect,
    policy_mask,
    policy_rule_mask,
    read_table,
    sql_column_names,
)
from tests.conftest import SHARED

FRAME = pd.DataFrame({"age": [25, 35, 45, None, 22], "previous": [1, 0, 2, 3, 0],
                      "job": ["a", "b", "c", "d", "a"]})


def test_policy_rule_selects_customers():
    assert policy_mask(FRAME, "age < 30 AND previous > 0").tolist() == [1, 0, 0, 0, 0]
    assert policy_mask(FRAME, "job IN ('a', 'c')").tolist() == [1, 0, 1, 0, 1]
    # NULL counts as not contacted; a subquery over the population itself is fine
    assert policy_mask(FRAME, "age > (SELECT avg(age) FROM population)").tolist() == \
        [0, 1, 1, 0, 0]


@pytest.mark.parametrize("rule,message", [
    ("read_csv('/etc/passwd') IS NOT NULL", "uses read_csv"),
    ("(SELECT count(*) FROM read_csv('/etc/passwd')) > 0", "read_csv"),
    ("EXISTS (SELECT * FROM read_csv_auto('/etc/passwd'))", "read_csv_auto"),
    ("age IN (SELECT 1 FROM liftlab.runs)", "liftlab.runs"),
    ("EXISTS (SELECT * FROM duckdb_settings())", "duckdb_settings"),
    ("age < 30; DROP TABLE population", "without ';'"),
    ("age < 30 -- and more", "comments"),
    ("age", "not true/false"),
    ("nope > 1", "nope"),
    ("", "empty"),
])
def test_policy_rule_is_sandboxed(rule, message):
    with pytest.raises(QueryError, match=message):
        policy_mask(FRAME, rule)


def test_policy_sandbox_has_no_file_access_even_when_parsing_is_fooled(tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(QueryError):
        policy_mask(FRAME, f"(SELECT count(*) FROM '{secret}') > 0")


def _result(n_boot=0):
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0])
    s = np.linspace(1, 0.1, 8)
    inputs = ScenarioInputs(Decision("fraction", 0.25), Economics(2, 50, 10), "age < 40",
                            n_boot, 3)
    return inputs, simulate_scenario(y, s, inputs, policy_mask=np.arange(8) < 3)


def test_scenarios_are_saved_listed_compared_and_survive_a_restart(settings):
    inputs, r = _result(100)
    save_scenario(settings, "Top quarter", "run-1", None, inputs, r)
    save_scenario(settings, "Top quarter", "run-1", None, inputs, r)  # replace, not duplicate
    inputs2 = ScenarioInputs(Decision("top_n", 5), Economics(payoff=(40, -5, 0, -1)))
    save_scenario(settings, "Payoff", "run-2", "next_month", inputs2, r)
    saved = list_scenarios(settings)  # every call opens a new connection to the file
    assert [s["name"] for s in saved] == ["Payoff", "Top quarter"]
    assert saved[1]["inputs"] == inputs and saved[0]["inputs"] == inputs2
    assert saved[1]["summary"]["profit_model"] == pytest.approx(r.profit_model)
    assert saved[1]["curve"]["profit_model"] == pytest.approx(r.curve["profit_model"])
    table = compare_scenarios(saved)
    assert list(table["scenario"]) == ["Payoff", "Top quarter"]
    assert table.loc[1, "population"] == "test split" and "–" in table.loc[1, "profit 95% CI"]
    assert table.loc[0, "economics"].startswith("payoff TP 40")
    delete_scenario(settings, "Payoff")
    assert [s["name"] for s in list_scenarios(settings)] == ["Top quarter"]
    with pytest.raises(SimulationError, match="name"):
        save_scenario(settings, "  ", "run-1", None, inputs, r)


def _population(table="customers"):
    frame = pd.DataFrame({"customer_id": [f"C{i}" for i in range(8)],
                          "email": [f"u{i}@example.com" for i in range(8)],
                          "age": [20, 30, 40, 50, 60, 70, 80, 90]})
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0])
    return Population("test split", table, frame, y, np.linspace(1, 0.1, 8))


def test_targeted_list_pseudonymises_marked_columns(settings):
    from core.tables import PersonalMark, protect_table, save_marks

    pop = _population()
    with connect(settings) as con:
        con.register("f", pop.frame)
        con.execute("CREATE TABLE customers AS SELECT * FROM f")
        save_marks(con, "customers", [PersonalMark("customer_id"), PersonalMark("email", "drop")])
        protect_table(con, settings, "customers", "customers_safe")
        safe = read_table(con, "customers_safe")
    r = simulate_population(pop, ScenarioInputs(Decision("top_n", 3), n_bootstrap=0))
    frame = targeted_list(settings, pop, r, "customer_id", ("email", "age"))
    assert list(frame.columns) == ["rank", "customer_id", "score", "age"]  # email dropped
    assert frame["rank"].tolist() == [1, 2, 3] and frame["age"].tolist() == [20, 30, 40]
    assert frame["customer_id"].tolist() == safe["customer_id"].head(3).tolist()
    assert all(v.startswith("p_") and "C0" not in v for v in frame["customer_id"])
    write_targeted_table(settings, frame, "campaign_targets")
    with connect(settings) as con:
        assert len(read_table(con, "campaign_targets")) == 3
    with pytest.raises(Exception, match="exists"):
        write_targeted_table(settings, frame, "campaign_targets")


def test_targeted_list_without_marks_numbers_rows(settings):
    pop = _population("not_in_warehouse")
    r = simulate_population(pop, ScenarioInputs(Decision("fraction", 0.5), n_bootstrap=0))
    frame = targeted_list(settings, pop, r)
    assert list(frame.columns) == ["rank", "test_row", "score"]  # says which rows they are
    assert frame["test_row"].tolist() == [0, 1, 2, 3]
    table = Population("next_month", "not_in_warehouse", pop.frame, None, pop.scores[::-1])
    assert targeted_list(settings, table, r)["row"].tolist() == [7, 6, 5, 4]


ORIGINALS = {"age": "age", "emp_var_rate": "emp.var.rate", "job": "job"}
BANKISH = pd.DataFrame({"age": [25, 45], "emp_var_rate": [1.1, -1.8], "job": ["a", "b"]})


@pytest.mark.parametrize("rule,says", [
    ("emp.var.rate < 0", "write emp_var_rate for the file's header emp.var.rate"),
    ("agee < 30", "the closest column name is age"),
    ("age < ", "is not valid SQL"),
    ("age", "not true/false"),
    ("age < 'abc'", "Conversion Error"),
])
def test_policy_mistakes_say_what_is_wrong_and_list_the_columns(rule, says):
    with pytest.raises(PolicyRuleError) as caught:
        policy_rule_mask(BANKISH, rule, ORIGINALS)
    text = str(caught.value)
    assert says in text and f"`{rule}`" in text
    assert "age, emp_var_rate (file header: emp.var.rate), job" in text
    assert caught.value.title == "The current-policy rule has a mistake"
    assert policy_rule_mask(BANKISH, "emp_var_rate < 0", ORIGINALS).tolist() == [False, True]


@pytest.mark.parametrize("rule", ["(SELECT count(*) FROM read_csv('/etc/passwd')) > 0",
                                  "age IN (SELECT 1 FROM liftlab.runs)",
                                  "age < 30; DROP TABLE population"])
def test_policy_refusals_stay_refusals(rule):
    with pytest.raises(QueryError) as caught:
        policy_rule_mask(BANKISH, rule, ORIGINALS)
    assert not isinstance(caught.value, PolicyRuleError)
    assert caught.value.title == "The query was refused"


def test_column_names_list_is_capped():
    assert sql_column_names([f"c{i}" for i in range(5)], limit=3) == "c0, c1, c2 and 2 more"


@pytest.mark.parametrize("target,positive,meaning", [
    ("y", "yes", None), ("converted", "1", None), ("class", "2", None),
    ("status", "bad", True), ("loan_status", "Charged Off", True), ("default", "yes", True),
    ("status", "good", False), ("loan_status", "Fully Paid", False)])
def test_credit_meaning_is_inferred_only_from_loan_like_labels(target, positive, meaning):
    assert bad_class_meaning(target, positive) is meaning


def test_id_columns_are_named_like_ids_and_unique():
    frame = pd.DataFrame({"age": [1, 2, 3], "customer_id": ["a", "b", "c"],
                          "household_id": ["h", "h", "k"], "ID": [3, 1, 2],
                          "client key": [None, "x", "y"]})
    assert id_columns(frame) == ["ID", "customer_id"]
    assert id_columns(FRAME) == []


class _StubRun:
    """Just enough of a run to load a warehouse population."""

    run_id = "run-1"
    features = ["age"]
    config = load_run_config({
        "run_id": "run-1", "created_at": "2026-12-01T10:00:00.000", "model": "logreg",
        "task": "binary", "positive_class": "1",
        "rows": {"table": 8, "train": 5, "valid": 1, "test": 2},
        "spec": {"table": "customers", "target": "y", "test_size": 0.25}})

    def predict(self, frame):
        return np.linspace(0.9, 0.1, len(frame))


def test_population_on_the_training_table_is_flagged_optimistic(settings):
    with connect(settings) as con:
        con.execute("CREATE TABLE customers AS SELECT range AS customer_id, 20 + range AS age, "
                    "CAST(range % 3 = 0 AS INT) AS y FROM range(8)")
        con.execute("CREATE TABLE next_month AS SELECT * EXCLUDE (y) FROM customers")
    run = _StubRun()
    pop = load_population(settings, run, "customers")
    assert len(pop.warnings) == 1
    assert "6 of its 8 rows were used to fit and tune" in pop.warnings[0]
    assert "optimistic" in pop.warnings[0]
    r = simulate_population(pop, ScenarioInputs(Decision("top_n", 3), n_bootstrap=0))
    assert pop.warnings[0] in r.notes  # the command line reports it too
    assert describe_population(run, pop) == ("table 'customers': 8 customers scored by the run, "
                                             "outcomes observed")
    fresh = load_population(settings, run, "next_month")
    assert fresh.warnings == () and fresh.expected
    assert describe_population(run, fresh).endswith("outcomes expected from the scores")
    split = Population("test split", "customers", fresh.frame.head(2), np.array([0, 1]),
                       np.array([0.2, 0.8]))
    assert describe_population(run, split) == (
        "the run's test split: 2 rows of 'customers' (25% of it) held out from training, "
        "numbered 0–1 as on the Explain page")


def test_value_column_and_policy_through_a_population():
    pop = _population()
    pop.frame["spend"] = [100.0, 5, 300, 0, 0, 50, 0, 0]
    inputs = ScenarioInputs(Decision("top_n", 3), Economics(1, 10, value_column="spend"),
                            "age >= 70", 0)
    r = simulate_population(pop, inputs)
    assert r.revenue_model == pytest.approx(400) and r.policy["targeted"] == 3
    assert r.policy["revenue"] == pytest.approx(50)


def test_credit_view_against_a_hand_computation():
    bad = np.array([0, 0, 1, 0, 1])
    v = credit_view(bad, np.array([0.1, 0.2, 0.3, 0.4, 0.5]), 5.0, 1.0)
    # approve k lowest-risk: losses (goods refused + 5 × bads approved) ÷ 5 applicants
    assert v.curve["loss_per_applicant"] == pytest.approx([3 / 5, 2 / 5, 1 / 5, 6 / 5, 5 / 5,
                                                           10 / 5])
    assert v.best_approved == 2 and v.best_threshold == pytest.approx(0.2)
    assert v.best_bad_rate == 0 and v.loss_refuse_all == pytest.approx(0.6)
    assert v.loss_approve_all == pytest.approx(2.0)


def test_credit_view_on_german_credit():
    """Statlog German credit with its 5:1 cost matrix (approving a bad loan costs 5)."""
    from sklearn.linear_model import LogisticRegression

    raw = pd.read_csv(SHARED / "data" / "german_credit" / "german.data", sep=" ", header=None)
    assert raw.shape == (1000, 21)
    bad = (raw[20] == 2).to_numpy(int)
    x = pd.get_dummies(raw.drop(columns=[20]), dtype=float).to_numpy()
    x = (x - x[:600].mean(0)) / (x[:600].std(0) + 1e-9)
    p_bad = LogisticRegression(max_iter=2000, C=0.3).fit(x[:600], bad[:600]).predict_proba(
        x[600:])[:, 1]
    v = credit_view(bad[600:], p_bad, 5.0, 1.0)
    test_bad = bad[600:]
    assert v.loss_approve_all == pytest.approx(5 * test_bad.mean())
    assert v.loss_refuse_all == pytest.approx(1 - test_bad.mean())
    order = np.argsort(p_bad, kind="mergesort")
    brute = [(5 * test_bad[order][:k].sum() + (1 - test_bad[order][k:]).sum()) / 400
             for k in range(401)]
    assert v.best_loss == pytest.approx(min(brute)) and v.best_approved == int(np.argmin(brute))
    assert v.best_loss < min(v.loss_approve_all, v.loss_refuse_all)
    # the cost-optimal cut for calibrated probabilities is p(bad) = 1/6 (Elkan, 2001)
    k16 = int((p_bad < 1 / 6).sum())
    assert brute[k16] - v.best_loss < 0.1
