"""SHAP for every tabular task (issue 12, items 14, 20, 23): regression in the target's units,
multiclass per class probability, FT-Transformer with an exact explainer, and importance under
the column names the analyst's file had."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.app import main
from core.explain import explain_run
from core.runs import load_run
from core.specs import DatasetSpec, ModelConfig
from core.training import train
from core.warehouse import connect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def task_ws(tmp_path_factory):
    from core.config import load_settings

    s = load_settings(tmp_path_factory.mktemp("tasks_ws"))
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"size": rng.normal(50, 10, n), "rooms": rng.integers(1, 6, n),
                          "area": rng.choice(["north", "south", "east"], n)})
    frame["price"] = (3 * frame["size"] + 20 * frame["rooms"]
                      + frame["area"].map({"north": 40, "south": 0, "east": -20})
                      + rng.normal(0, 5, n))
    frame["band"] = pd.cut(frame["price"], 3, labels=["low", "mid", "high"]).astype(str)
    with connect(s) as con:
        con.register("f", frame)
        con.execute("CREATE TABLE homes AS SELECT * FROM f")
        con.unregister("f")
    return s


@pytest.mark.parametrize("model", ["logreg", "hgb", "mlp"])
def test_regression_shap_is_in_target_units_and_adds_up(task_ws, model):
    spec = DatasetSpec("homes", "price", features=("size", "rooms", "area"), task="regression")
    run = load_run(task_ws, train(task_ws, spec, ModelConfig.of(
        model=model, epochs=5, hidden_units=(16,))).run_id)
    exp = explain_run(run, n_rows=40)
    assert exp.additivity_ok, (exp.explainer, exp.additivity_max_error)
    assert "price" in exp.output_space and exp.target_class is None
    pred = run.predict(run.test_frame.iloc[:0].pipe(lambda _: exp.rows))
    assert np.allclose(exp.base_value + exp.values.sum(1), pred, atol=1e-3 * np.std(pred) + 1e-3)
    assert abs(exp.base_value - pred.mean()) < 3 * np.std(pred)  # target units, not z-scores


def test_multiclass_shap_explains_one_class_probability(task_ws, capsys):
    spec = DatasetSpec("homes", "band", features=("size", "rooms", "area"), task="multiclass")
    run = load_run(task_ws, train(task_ws, spec, ModelConfig.of(model="hgb")).run_id)
    exp = explain_run(run, n_rows=30, target_class="high")
    proba = run.predict(exp.rows)[:, list(run.config.classes).index("high")]
    assert exp.target_class == "high" and exp.method == "permutation"
    assert np.allclose(exp.base_value + exp.values.sum(1), proba, atol=1e-6)
    code = main(["--data-dir", str(task_ws.data_dir), "explain", run.run_id, "--rows", "20",
                 "--class", "low"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["target_class"] == "low" and out["additivity_ok"]
    code = main(["--data-dir", str(task_ws.data_dir), "explain", run.run_id, "--class", "nope"])
    assert code == 2 and "is not a class of this run" in capsys.readouterr().err


def test_ft_transformer_gets_an_explainer_that_adds_up(task_ws):
    spec = DatasetSpec("homes", "band", features=("size", "rooms", "area"))
    with connect(task_ws) as con:
        con.execute("CREATE OR REPLACE TABLE homes2 AS SELECT *, band = 'high' AS top FROM homes")
    spec = DatasetSpec("homes2", "top", features=("size", "rooms", "area"))
    run = load_run(task_ws, train(task_ws, spec, ModelConfig.of(
        model="ft_transformer", epochs=2, d_token=8, n_heads=2, n_blocks=1)).run_id)
    exp = explain_run(run, n_rows=20)
    assert exp.additivity_ok and exp.additivity_max_error < 1e-3, exp.reason
    assert exp.method in ("deeplift", "deep", "permutation")


def test_importance_uses_the_files_column_names(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    frame = pd.DataFrame({"emp.var.rate": x, "Monthly Charges ($)": rng.normal(size=300),
                          "y": np.where(x + rng.normal(size=300) > 0, "yes", "no")})
    path = tmp_path / "bankish.csv"
    frame.to_csv(path, index=False)
    d = str(tmp_path / "ws")
    assert main(["--data-dir", d, "ingest", str(path)]) == 0
    capsys.readouterr()
    assert main(["--data-dir", d, "train", "--table", "bankish", "--target", "y",
                 "--model", "logreg"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["--data-dir", d, "explain", run_id, "--rows", "20"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [f["feature"] for f in out["importance"]][0] == "emp.var.rate"  # not emp_var_rate
    assert {f["feature"] for f in out["importance"]} == {"emp.var.rate", "Monthly Charges ($)"}


def test_rows_say_their_prediction_and_the_report_explains_a_regression_run(task_ws, tmp_path):
    from core.explain import contributions, explain_in_words, row_facts, row_order
    from core.report import ReportOptions, write_report
    from core.runs import LABEL_COL

    spec = DatasetSpec("homes", "price", features=("size", "rooms", "area"), task="regression")
    run = load_run(task_ws, train(task_ws, spec, ModelConfig.of(model="hgb")).run_id)
    exp = explain_run(run, n_rows=30)
    assert np.allclose(exp.scores, run.predict(exp.rows))  # the prediction, in target units
    i = int(row_order(exp, "rank")[0])
    assert exp.scores[i] == exp.scores.max()
    facts = row_facts(run, exp, i)
    actual = float(run.test_frame[LABEL_COL].iloc[int(exp.row_ids[i])])
    assert facts == ("prediction", f"{exp.scores[i]:,.4g}", f"{actual:,.4g}", "price")
    words = explain_in_words(contributions(exp, i), exp.base_value, float(exp.output[i]),
                             exp.output_space, "price", task="regression")
    assert words.startswith(f"The prediction of 'price' is {exp.output[i]:,.4g}, higher than the "
                            f"base value of {exp.base_value:,.4g}")
    assert words.endswith("Contributions are in the units of 'price'.")
    info = write_report(task_ws, run, tmp_path / "r.html", ReportOptions(rows=30))
    html = (tmp_path / "r.html").read_text()
    assert info["sections"][-2:] == ["shap global", "shap local"]
    assert "SHAP: what drives the model" in html and "(prediction " in html
    assert "price (target units)" in html  # the units of the values, said


def test_a_multiclass_row_names_its_class_and_the_report_explains_it(task_ws, tmp_path):
    from core.explain import row_facts
    from core.report import ReportOptions, write_report
    from core.runs import LABEL_COL

    spec = DatasetSpec("homes", "band", features=("size", "rooms", "area"), task="multiclass")
    run = load_run(task_ws, train(task_ws, spec, ModelConfig.of(model="logreg")).run_id)
    classes = [str(k) for k in run.config.classes]
    exp = explain_run(run, n_rows=20, target_class="mid")
    proba = run.predict(exp.rows)[:, classes.index("mid")]
    assert np.allclose(exp.scores, proba)  # the explained class's probability
    facts = row_facts(run, exp, 0)
    label = int(run.test_frame[LABEL_COL].iloc[int(exp.row_ids[0])])
    assert facts == ("probability of 'mid'", f"{proba[0]:.3f}", classes[label], "mid")
    info = write_report(task_ws, run, tmp_path / "m.html", ReportOptions(rows=20), exp)
    html = (tmp_path / "m.html").read_text()
    local = html[html.index("SHAP: three customers"):]
    assert info["sections"][-2:] == ["shap global", "shap local"]
    assert local.count("<h3>") == 3 and "(probability of 'mid' " in local


def test_with_names_renames_what_people_read_and_keeps_the_values(tmp_path, capsys):
    from core.config import load_settings
    from core.explain import with_names
    from core.runs import column_names

    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    frame = pd.DataFrame({"emp.var.rate": x, "job": rng.choice(["a", "b"], 300),
                          "y": np.where(x + 3 * rng.normal(size=300) > 0, "yes", "no")})
    frame.to_csv(tmp_path / "dots.csv", index=False)
    d = str(tmp_path / "ws")
    assert main(["--data-dir", d, "ingest", str(tmp_path / "dots.csv")]) == 0
    capsys.readouterr()
    assert main(["--data-dir", d, "train", "--table", "dots", "--target", "y", "--model",
                 "logreg"]) == 0
    s = load_settings(d)
    run = load_run(s, json.loads(capsys.readouterr().out)["run_id"])
    exp = explain_run(run, n_rows=10)
    shown = with_names(exp, column_names(s, run))
    assert exp.columns == ["emp_var_rate", "job"] and shown.columns == ["emp.var.rate", "job"]
    assert list(shown.rows.columns) == ["emp.var.rate", "job"]
    assert "emp.var.rate" in shown.encoded_names and "job=a" in shown.encoded_names
    assert np.array_equal(shown.values, exp.values) and shown.base_value == exp.base_value
    assert with_names(exp, {}) is exp
    assert with_names(exp, {"emp_var_rate": "job"}) is exp  # two columns would share a name
    info = main(["--data-dir", d, "report", run.run_id, "--out", str(tmp_path / "r.html")])
    html = (tmp_path / "r.html").read_text()
    shap = html[html.index("SHAP: what drives the model"):]
    assert info == 0 and "emp.var.rate" in shap and "emp_var_rate" not in shap
