"""The bank check: trained on the first half of the file (it is in time order), monitoring the
second half in 4 chunks flags the macro-economic columns and shows realised ROC-AUC per chunk."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.features import label_text
from core.monitor import Chunking, load_monitor, monitor, monitor_history
from core.runs import load_run
from core.warehouse import connect, read_table

MACRO = {"emp.var.rate", "euribor3m", "nr.employed", "cons.price.idx", "cons.conf.idx"}


@pytest.fixture(scope="module")
def bank_result(mon_ws):
    s, runs = mon_ws
    run = load_run(s, runs["hgb"])
    return s, run, monitor(s, run, "bank_second", Chunking(n_chunks=4))


def test_macro_economic_columns_drift_in_every_chunk(bank_result):
    _, _, res = bank_result
    assert [c["chunk"] for c in res["chunks"]] == ["1/4", "2/4", "3/4", "4/4"]
    assert sum(c["rows"] for c in res["chunks"]) == 41188 - 20594
    for c in res["chunks"]:
        drifted = {f["feature"] for f in c["drift"]["features"] if f["drifted"]}
        assert MACRO <= drifted, (c["chunk"], MACRO - drifted)
        # the reference (test split, 4,119 rows) is large: distances, not p-values
        methods = {f["feature"]: f["method"] for f in c["drift"]["features"]}
        assert methods["euribor3m"] == "wasserstein" and methods["month"] == "jensenshannon"
        assert c["drift"]["multivariate"]["drifted"]
        assert c["prediction_drift"]["method"] in ("wasserstein", "jensenshannon")
    assert res["dataset_drift"] is True
    assert any("euribor3m" in a or "emp.var.rate" in a or "nr.employed" in a
               for a in res["alerts"])


def test_realised_roc_auc_per_chunk_matches_sklearn(bank_result):
    s, run, res = bank_result
    with connect(s) as con:
        frame = read_table(con, "bank_second")
    y = (frame["y"].map(label_text) == "yes").to_numpy(int)
    scores = run.predict(frame)
    bounds = np.floor(np.arange(len(frame)) * 4 / len(frame)).astype(int)
    for k, c in enumerate(res["chunks"]):
        exact = roc_auc_score(y[bounds == k], scores[bounds == k])
        real = c["realized"]
        assert real["roc_auc"] == pytest.approx(exact, abs=2e-3)
        lo, hi = real["ci95"]["roc_auc"]
        assert lo < real["roc_auc"] < hi
        assert c["estimated"]["roc_auc"] is not None and "P(y|x)" in c["estimated"]["assumption"]


def test_quality_marks_rows_outside_what_the_model_saw(bank_result):
    _, _, res = bank_result
    last = res["chunks"][-1]["quality"]
    # the crisis months bring macro values the first half never had
    assert last["out_of_range_share"] > 0.05 and not res["chunks"][-1]["reliable"]
    assert "euribor3m" in last["out_of_range"] or "nr.employed" in last["out_of_range"]
    assert res["reference"]["seen_from"].startswith("the run's table 'bank_first'")


def test_result_is_stored_and_survives_a_new_connection(bank_result):
    s, run, res = bank_result
    stored = monitor_history(s, run_id=run.run_id)
    assert stored[0]["monitor_id"] == res["monitor_id"] and stored[0]["dataset_drift"]
    again = load_monitor(s, res["monitor_id"])
    assert again["chunks"][0]["drift"]["features"] == res["chunks"][0]["drift"]["features"]
    assert set(again["distributions"]) >= MACRO
