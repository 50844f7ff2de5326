"""Golden test of the command-line contract: every command's JSON keys (with value kinds) and exit
code on a small bank subsample, held against ``golden/cli.json`` beside this file.

The file was written from the version before core/ moved into packages (``LIFTLAB_WRITE_GOLDEN=1
pytest tests/core/app/test_cli_golden.py``); since then a changed key, kind or exit code fails.
Shapes may only grow ("extend, never break"): new keys pass; a lost key, a changed kind or exit
code fails.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import BANK, CASES, make_cycle_events

GOLDEN = Path(__file__).resolve().parent / "golden" / "cli.json"

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def shape(value):
    """The structure of a JSON value: dict keys kept, lists merged, scalars by kind."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        merged = None
        for item in value:
            merged = _merge(merged, shape(item))
        return [] if merged is None else [merged]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return "str"


def _merge(a, b):
    if a is None:
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) for k in sorted(set(a) | set(b))}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0] if a else None, b[0] if b else None)] if (a or b) else []
    if a == b:
        return a
    kinds = set(a.split("|") if isinstance(a, str) else [json.dumps(a)])
    kinds |= set(b.split("|") if isinstance(b, str) else [json.dumps(b)])
    return "|".join(sorted(kinds))


def _cli(data_dir: Path, *args: str) -> tuple[int, object]:
    from core.app import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--data-dir", str(data_dir), *args])
    text = out.getvalue().strip()
    if code == 0:
        return code, shape(json.loads(text))
    assert text == "" and err.getvalue().startswith("error: "), (args, err.getvalue())
    return code, None


def _campaign(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.integers(18, 80, n), "visits": rng.poisson(3, n),
                          "region": rng.choice(["north", "south", "east"], n)})
    t = rng.integers(0, 2, n)
    p = 0.1 + 0.3 * (frame["visits"] >= 5) + np.where(t == 1, 0.15 * (frame["age"] < 35), 0)
    return frame.assign(campaign=np.where(t == 1, "offer", "holdout"),
                        bought=np.where(rng.random(n) < p, "yes", "no"))


def _record(tmp: Path) -> dict:
    """Run every command once; return {name: {"exit": code, "json": shape}}."""
    from core.config import load_settings
    from core.warehouse import connect

    d = tmp / "ws"
    s = load_settings(d)
    out: dict[str, dict] = {}

    def call(name, *args):
        code, js = _cli(d, *args)
        out[name] = {"exit": code, "json": js}
        return js

    call("ingest", "ingest", str(BANK), "--table", "bank_full")
    with connect(s) as con:
        con.execute("CREATE TABLE bank AS SELECT * FROM bank_full "
                    "USING SAMPLE reservoir(1500 ROWS) REPEATABLE (7)")
        con.execute("DROP TABLE bank_full")
        con.register("f", _campaign())
        con.execute("CREATE TABLE promo AS SELECT * FROM f")
        con.unregister("f")
        make_cycle_events(con)
    call("info", "info")
    call("tables", "tables")
    call("sql", "sql", "SELECT y, count(*) AS n FROM bank GROUP BY y ORDER BY y")
    common = ("--table", "bank", "--target", "y", "--exclude", "duration")
    for model in ("mlp", "hgb", "logreg"):
        extra = ("--epochs", "2", "--hidden-units", "8") if model == "mlp" else ()
        call(f"train_{model}", "train", *common, "--model", model, *extra)
    runs, hgb = _run_ids(d)
    call("train_cv", "train", *common, "--model", "logreg", "--cv", "2")
    call("train_tune", "train", *common, "--model", "mlp", "--tune-trials", "2", "--epochs", "1",
         "--hidden-units", "8")
    call("bad_train_tune_logreg", "train", *common, "--model", "logreg", "--tune-trials", "2")
    call("train_stream", "train", *common, "--epochs", "1", "--hidden-units", "8",
         "--pipeline", "stream")
    call("train_uplift", "train", "--table", "promo", "--target", "bought", "--positive", "yes",
         "--treatment", "campaign", "--treated-value", "offer", "--model", "logreg")
    call("runs", "runs")
    call("jobs", "jobs")
    logreg = runs["logreg"]
    call("evaluate", "evaluate", logreg, "--threshold", "0.3", "--bootstrap", "20")
    call("evaluate_policy", "evaluate", logreg, "--policy", "best_f1", "--segment", "job",
         "--bootstrap", "20")
    call("explain", "explain", logreg, "--rows", "40")
    call("report", "report", logreg, "--out", str(tmp / "review.html"), "--rows", "40",
         "--contact-cost", "5", "--conversion-value", "100")
    call("fairness", "fairness", logreg, "--by", "marital", "--threshold", "0.3",
         "--bootstrap", "20")
    call("leaderboard", "leaderboard", *common, "--models", "logreg,hgb", "--bootstrap", "20")
    call("score", "score", logreg, "--table", "bank", "--out", "bank_scored")
    call("simulate", "simulate", logreg, "--contact-cost", "5", "--conversion-value", "100",
         "--bootstrap", "20")
    call("simulate_top_n", "simulate", hgb, "--contact-cost", "5", "--conversion-value",
         "100", "--top-n", "50", "--bootstrap", "20", "--policy", "age < 30")
    uplift = _run_ids(d)[0]["uplift"]
    call("simulate_uplift", "simulate", uplift, "--contact-cost", "1", "--conversion-value",
         "20", "--bootstrap", "20")
    call("recommend_train", "recommend", "train", "--table", "clicks", "--user", "user_id",
         "--item", "item", "--time", "ts", "--price", "price", "--model", "transitions",
         "--min-user", "3", "--min-item", "1")
    rec = _run_ids(d)[0]["transitions"]
    call("recommend_for", "recommend", "for", rec, "--user", "u01", "--k", "3")
    call("export", "export", logreg, "--out", str(tmp / "run.zip"))
    call("import", "import", str(tmp / "run.zip"))
    call("abtest_plan", "abtest", "plan", "--base-rate", "0.1", "--expected-rate", "0.12",
         "--daily-volume", "500")
    call("abtest_readout", "abtest", "readout", "--conversions-a", "50", "--customers-a", "500",
         "--conversions-b", "70", "--customers-b", "500", "--predicted-lift", "0.3")
    # bad input: exit codes only
    for name, args in {
        "bad_ingest_empty": ("ingest", str(CASES / "empty.csv")),
        "bad_train_target": ("train", "--table", "bank", "--target", "nope"),
        "bad_train_model": ("train", "--table", "bank", "--target", "y", "--model", "bogus"),
        "bad_jobs_cancel": ("jobs", "cancel", "nosuchjob"),
        "bad_train_workers": ("train", "--table", "bank", "--target", "y", "--workers", "0"),
        "bad_evaluate_run": ("evaluate", "no-such-run"),
        "bad_evaluate_threshold": ("evaluate", logreg, "--threshold", "2"),
        "bad_sql_write": ("sql", "DROP TABLE bank"),
        "bad_simulate_two_rules": ("simulate", logreg, "--contact-cost", "1",
                                   "--conversion-value", "2", "--top-n", "3", "--budget", "9"),
        "bad_report_half_scenario": ("report", logreg, "--out", str(tmp / "r.html"),
                                     "--contact-cost", "5"),
        "bad_recommend_k": ("recommend", "for", rec, "--user", "u01", "--k", "0"),
        "bad_fairness_column": ("fairness", logreg, "--by", "nope"),
        "bad_leaderboard_one_model": ("leaderboard", *common, "--models", "hgb"),
        "bad_no_command": (),
        "bad_export_existing": ("export", logreg, "--out", str(tmp / "run.zip")),
        "bad_import_missing": ("import", str(tmp / "nope.zip")),
        "bad_abtest_rates": ("abtest", "plan", "--base-rate", "1.5", "--expected-rate", "0.2"),
        "bad_simulate_infinite": ("simulate", logreg, "--contact-cost", "1",
                                  "--conversion-value", "inf"),
        "bad_score_over_input": ("score", logreg, "--table", "bank", "--out", "BANK"),
    }.items():
        call(name, *args)
    _record_tables(tmp, call)
    return out


def _record_tables(tmp: Path, call) -> None:
    """``profile``, ``prepare`` (a recipe file, then a replay) and ``protect`` (marks, then
    reaching k) on the bank subsample, and their bad input."""
    recipe = tmp / "recipe.json"
    recipe.write_text(json.dumps({"name": "bank_recipe", "steps": [
        {"kind": "drop_duplicates", "columns": ["age", "job"]},
        {"kind": "rename", "columns": ["emp_var_rate"], "value": "employment rate"},
        {"kind": "log", "columns": ["campaign"]},
        {"kind": "encode", "columns": ["job"], "method": "onehot", "value": 5}]}))
    call("profile", "profile", "bank", "--target", "y")
    call("prepare", "prepare", "bank", "--recipe", str(recipe), "--out", "bank_prepared")
    call("prepare_replay", "prepare", "bank", "--replay", "bank_recipe", "--out", "bank_again")
    call("protect", "protect", "bank", "--column", "age", "--action", "generalise",
         "--bands", "age=10", "--column", "job", "--action", "pseudonymise")
    call("protect_k", "protect", "bank", "--k", "5", "--quasi", "age,marital",
         "--out", "bank_k5")
    bad = tmp / "bad_recipe.json"
    bad.write_text("{not json")
    call("bad_profile_table", "profile", "no_such_table")
    call("bad_prepare_recipe", "prepare", "bank", "--recipe", str(bad), "--out", "x")
    call("bad_protect_pairs", "protect", "bank", "--column", "age")


def _run_ids(d: Path) -> tuple[dict, str]:
    """Newest run id per model (uplift runs under 'uplift'), and the hgb run."""
    from core.config import load_settings
    from core.runs import list_runs

    ids: dict[str, str] = {}
    for r in list_runs(load_settings(d)):
        key = "uplift" if r.get("task") == "uplift" else r.get("model")
        ids.setdefault(key, r["run_id"])
    return ids, ids.get("hgb", "")


@pytest.mark.slow
def test_cli_json_keys_and_exit_codes_match_the_golden_file(tmp_path):
    got = _record(tmp_path)
    if os.environ.get("LIFTLAB_WRITE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name]["exit"] == want[name]["exit"], name
        assert _extends(got[name]["json"], want[name]["json"]), (name, got[name], want[name])


def _extends(got, want) -> bool:
    """Whether ``got`` keeps every key and kind of ``want`` (new keys may be added; an empty
    list in the golden file matches any list)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _extends(got[k], v)
                                             for k, v in want.items())
    if isinstance(want, list):
        return isinstance(got, list) and (not want or (bool(got) and _extends(got[0], want[0])))
    if isinstance(want, str) and isinstance(got, str):  # "null|number": either kind may come
        return set(got.split("|")) <= set(want.split("|"))
    return got == want


def test_extends_accepts_new_keys_and_refuses_lost_ones():
    want = {"a": "number", "b": [{"c": "str"}], "d": []}
    assert _extends({"a": "number", "b": [{"c": "str", "e": "bool"}], "d": ["str"], "f": "str"},
                    want)
    assert not _extends({"a": "str", "b": [{"c": "str"}], "d": []}, want)
    assert not _extends({"a": "number", "b": [{"e": "str"}], "d": []}, want)
    assert not _extends({"a": "number", "d": []}, want)
    # precision is null when nothing is predicted positive: a golden "null|number" takes both
    assert _extends({"p": "null"}, {"p": "null|number"})
    assert _extends({"p": "number"}, {"p": "null|number"})
    assert not _extends({"p": "null|number"}, {"p": "number"})
