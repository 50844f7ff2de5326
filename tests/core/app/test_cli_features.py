"""``train``'s JSON names the features as the file named them and lists what was left out and
why; identifiers and leaking columns are left out of every training path by default."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from core.app import main
from tests.core.tables.test_exclusions import retail

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _cli(data_dir, *args) -> tuple[int, dict | None, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--data-dir", str(data_dir), *args])
    return code, json.loads(out.getvalue()) if code == 0 else None, err.getvalue()


@pytest.fixture(scope="module")
def retail_ws(tmp_path_factory):
    folder = tmp_path_factory.mktemp("retail_cli")
    frame = retail(2000).rename(columns={"InvoiceNo": "Invoice No", "CustomerID": "Customer ID",
                                         "UnitPrice": "Unit Price ($)"})
    frame.to_csv(folder / "lines.csv", index=False)
    code, _, err = _cli(folder / "ws", "ingest", str(folder / "lines.csv"), "--table", "lines")
    assert code == 0, err
    return folder / "ws"


def test_train_json_names_features_as_the_file_did_and_lists_exclusions(retail_ws):
    code, js, err = _cli(retail_ws, "train", "--table", "lines", "--target", "returned",
                         "--positive", "yes", "--model", "logreg", "--exclude", "Country")
    assert code == 0, err
    assert js["features"] == ["Quantity", "Unit Price ($)"]
    assert [(e["column"], e["reason"]) for e in js["excluded"]] == [
        ("Invoice No", "identifier"), ("Customer ID", "identifier"), ("Country", "user")]
    assert "Left out of the features: 'Invoice No' (identifier); 'Customer ID' (identifier)." \
        in js["notes"]


def test_cross_validation_uses_the_same_features(retail_ws):
    code, js, err = _cli(retail_ws, "train", "--table", "lines", "--target", "returned",
                         "--positive", "yes", "--model", "logreg", "--cv", "2")
    assert code == 0, err
    assert js["features"] == ["Quantity", "Unit Price ($)", "Country"]
    assert js["cv"]["k"] == 2


def test_identifier_target_is_refused_with_a_way_out(retail_ws):
    code, js, err = _cli(retail_ws, "train", "--table", "lines", "--target", "Customer_ID",
                         "--task", "regression", "--model", "logreg")
    assert code == 2 and js is None
    assert err.startswith("error: The target 'Customer ID' looks like an identifier")
    assert "rename it in Prepare" in err
