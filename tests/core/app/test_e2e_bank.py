"""End to end on the real bank file: ingest → MLP without duration → metrics → SHAP → lift."""

from __future__ import annotations

import pytest

from core.explain import explain_run
from core.impact import ScenarioInputs, simulate_scenario
from core.ingest import IngestOptions, ingest_file
from core.runs import LABEL_COL, SCORE_COL, load_run
from core.specs import DatasetSpec, Economics, ModelConfig
from core.training import train
from core.warehouse import connect
from tests.conftest import BANK

pytestmark = pytest.mark.slow


def test_bank_end_to_end(settings):
    with connect(settings) as con:
        report = ingest_file(con, BANK, IngestOptions(table="bank"))
        assert report.rows == 41188
        # stratified subsample for time: every 3rd row of each class
        con.execute("CREATE TABLE bank_sub AS SELECT * EXCLUDE (rn) FROM (SELECT *, "
                    "row_number() OVER (PARTITION BY y ORDER BY rowid) AS rn FROM bank) "
                    "WHERE rn % 3 = 0")
        n = con.execute("SELECT count(*), avg((y = 'yes')::INT) FROM bank_sub").fetchone()
    assert n[0] == 13728 and n[1] == pytest.approx(0.1127, abs=0.001)
    result = train(settings, DatasetSpec("bank_sub", "y", exclude=("duration",)),
                   ModelConfig.of(epochs=15, batch_size=256))
    assert result.config.positive_class == "yes"
    assert result.metrics["metrics"]["roc_auc"] >= 0.75
    run = load_run(settings, result.run_id)
    exp = explain_run(run, n_rows=200)
    assert exp.additivity_max_error <= 1e-3
    top = list(exp.importance()["feature"][:5])
    assert "duration" not in run.features
    assert {"nr_employed", "euribor3m", "emp_var_rate", "month", "pdays", "poutcome",
            "contact", "cons_conf_idx", "cons_price_idx", "age"} & set(top)
    t = run.test_frame
    impact = simulate_scenario(t[LABEL_COL], t[SCORE_COL],
                               ScenarioInputs.top_share(0.2, Economics(5, 100), 200))
    assert impact.conversion_lift > 2.0
    assert impact.profit_model > impact.profit_random
