"""Nothing changes silently (issue 12, items 7, 10–12): rows left out, values filled in, small
test sets and wide tables are said in the run's notes and the command line's JSON, and numbers
that are not finite are refused instead of computed with."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.app import main
from core.errors import SchemaError
from core.specs import DatasetSpec, ModelConfig
from core.training import train
from core.warehouse import connect


def _table(settings, name: str, frame: pd.DataFrame) -> None:
    with connect(settings) as con:
        con.register("f", frame)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM f")
        con.unregister("f")


def _people(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "z": rng.normal(size=n),
                         "y": np.where(x + rng.normal(size=n) > 0, "yes", "no")})


def _cli(capsys, settings, *args):
    code = main(["--data-dir", str(settings.data_dir), *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_left_out_and_filled_in_values_are_in_the_notes(settings, capsys):
    frame = _people()
    frame.loc[:9, "y"] = None                       # 10 rows without a target
    frame.loc[10:24, "x"] = np.nan                  # 15 missing numbers
    frame.loc[25:27, "z"] = np.inf                  # 3 infinite numbers
    _table(settings, "people", frame)
    code, out, _ = _cli(capsys, settings, "train", "--table", "people", "--target", "y",
                        "--features", "x,z", "--model", "logreg")
    notes = " | ".join(out["notes"])
    assert code == 0 and "10 of 400 rows have no value in the target 'y'" in notes
    assert "'x': " in notes and "missing value(s) in the training rows were replaced" in notes
    assert "'z': " in notes and "infinite value(s)" in notes and out["rows"]["table"] == 390
    code, out, _ = _cli(capsys, settings, "train", "--table", "people", "--target", "y",
                        "--features", "x,z", "--model", "logreg", "--missing", "drop")
    assert code == 0 and out["rows"]["table"] == 372  # 400 − 10 − 15 − 3
    assert any("18 rows with a missing or infinite feature value were left out" in n
               for n in out["notes"])
    assert not any("replaced by the training median" in n for n in out["notes"])


def test_small_test_sets_and_wide_tables_are_flagged(settings, capsys):
    _table(settings, "tiny", _people(20, seed=1))
    code, out, _ = _cli(capsys, settings, "train", "--table", "tiny", "--target", "y",
                        "--model", "logreg")
    assert code == 0 and out["rows"]["test"] == 4 and out["reliable"] is False
    assert any(n.startswith("Unreliable: the evaluation set has only 4 rows") for n in
               out["notes"])
    code, ev, _ = _cli(capsys, settings, "evaluate", out["run_id"], "--bootstrap", "0")
    assert code == 0 and ev["reliable"] is False
    wide = _people(30, seed=2)
    for i in range(40):
        wide[f"w{i}"] = np.random.default_rng(i).normal(size=30)
    _table(settings, "wide", wide)
    r = train(settings, DatasetSpec("wide", "y"), ModelConfig.of(model="logreg"))
    assert any("inputs (after encoding) but only" in n for n in r.metrics["notes"])
    big = train(settings, DatasetSpec("tiny", "y"), ModelConfig.of(model="logreg"))
    assert not any("inputs (after encoding)" in n for n in big.metrics["notes"])


@pytest.mark.parametrize("model", ["logreg", "mlp"])
def test_an_infinite_regression_target_is_refused_with_advice(settings, model):
    frame = _people(200).assign(y=np.linspace(0, 10, 200))
    frame.loc[5, "y"] = np.inf
    _table(settings, "reg", frame)
    with pytest.raises(SchemaError, match="1 infinite value.*Filter those rows out"):
        train(settings, DatasetSpec("reg", "y", task="regression"),
              ModelConfig.of(model=model, epochs=1))


def test_non_finite_numbers_are_refused_and_never_printed(settings, capsys):
    _table(settings, "people", _people(300, seed=3))
    code, out, _ = _cli(capsys, settings, "train", "--table", "people", "--target", "y",
                        "--features", "x,z", "--model", "logreg")
    run = out["run_id"]
    for flag, value in (("--conversion-value", "inf"), ("--contact-cost", "nan"),
                        ("--conversion-value", "1e308"), ("--fixed-cost", "-inf"),
                        ("--top-n", "1e300")):
        args = ["simulate", run, "--contact-cost", "1", "--conversion-value", "10", flag, value]
        code, js, err = _cli(capsys, settings, *args)
        assert code == 2 and js is None and err.startswith("error: "), (flag, value, err)
    code, js, _ = _cli(capsys, settings, "evaluate", run, "--threshold", "1", "--bootstrap", "0")
    text = json.dumps(js)
    assert code == 0 and js["metrics"]["precision"] is None  # undefined: nobody at >= 1
    assert "NaN" not in text and "Infinity" not in text
