"""The review report gains a monitoring section once the run was monitored (and only then)."""

from __future__ import annotations

from core.monitor import Chunking, monitor, promote
from core.report import ReportOptions, write_report
from core.runs import load_run


def test_report_has_a_monitoring_section_only_after_monitoring(mon_ws, tmp_path):
    s, _ = mon_ws
    from core.specs import DatasetSpec, ModelConfig
    from core.training import train

    fresh = load_run(s, train(s, DatasetSpec("bank_first", "y", exclude=("duration",)),
                              ModelConfig(model="logreg")).run_id)
    before = write_report(s, fresh, tmp_path / "before.html", ReportOptions(rows=100))
    assert "monitoring" not in before["sections"]
    monitor(s, fresh, "bank_second", Chunking(n_chunks=4), multivariate=False)
    promote(s, "report_model", fresh.run_id, "first version")
    after = write_report(s, fresh, tmp_path / "after.html", ReportOptions(rows=100))
    assert after["sections"][-1] == "monitoring"
    text = (tmp_path / "after.html").read_text()
    assert 'id="monitoring"' in text and "bank_second" in text and "euribor3m" in text
    assert "Model &#x27;report_model&#x27;, version 1: the champion." in text
    assert "P(y|x)" in text
