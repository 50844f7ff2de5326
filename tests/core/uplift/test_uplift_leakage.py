"""The uplift trap of issue 13: on an e-mail experiment, columns observed after the e-mail
(``visit``) or after the outcome (``spend``) went into the uplift model by default. Every
training path now leaves them out and says so (run notes, config.json, the train JSON)."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from core.app import main
from core.specs import DatasetSpec, ModelConfig
from core.uplift import UpliftConfig, train_uplift
from core.warehouse import connect
from tests.core.tables.test_exclusions import email_experiment

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def mail_ws(tmp_path_factory):
    from core.config import load_settings

    s = load_settings(tmp_path_factory.mktemp("mail_ws"))
    with connect(s) as con:
        con.register("f", email_experiment(6000))
        con.execute("CREATE TABLE mail AS SELECT * FROM f")
        con.unregister("f")
    return s


def test_default_uplift_run_learns_from_pre_treatment_columns_only(mail_ws):
    r = train_uplift(mail_ws, DatasetSpec("mail", "conversion", "yes"),
                     ModelConfig.of(model="logreg"), UpliftConfig("emailed", "yes", "t"))
    assert set(r.config.source_features) == {"recency", "history", "channel", "newbie"}
    excluded = {e["column"]: e["reason"] for e in r.config.extra["exclusions"]}
    assert excluded == {"visit": "post-treatment", "spend": "leakage"}
    assert "Left out of the features: 'visit' (post-treatment); 'spend' (leakage)." in \
        r.metrics["notes"]


def test_s_learner_and_cli_say_what_was_left_out(mail_ws):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--data-dir", str(mail_ws.data_dir), "train", "--table", "mail",
                     "--target", "conversion", "--positive", "yes", "--treatment", "emailed",
                     "--treated-value", "yes", "--learner", "s", "--model", "logreg"])
    assert code == 0, err.getvalue()
    js = json.loads(out.getvalue())
    assert js["features"] == ["recency", "history", "channel", "newbie"]
    assert [(e["column"], e["reason"]) for e in js["excluded"]] == [("visit", "post-treatment"),
                                                                    ("spend", "leakage")]
    assert all(e["detail"] for e in js["excluded"])
