"""The review report: self-contained HTML with every section, numbers equal to the Evaluate step,
a PDF printed by headless Chromium, the CLI command, and plain errors."""

from __future__ import annotations

import json
import re

import pytest

from core.app import main
from core.report import ReportOptions, write_report
from core.report._html import svg_only
from core.report._options import ReportError
from core.report._report import find_chromium
from core.runs import load_run
from tests.core.review_fixtures import multiclass_run

SECTIONS = ["summary", "data", "preparation", "model card", "privacy", "metrics", "curves",
            "segments",
            "shap global", "shap local"]


def _external_refs(text: str) -> list[str]:
    """Resources the page would load: script/link/img tags pointing outside the file (text
    inside inline scripts, such as plotly.js's attribution strings, loads nothing)."""
    markup = re.sub(r"<script[^>]*>.*?</script>", "<script></script>", text, flags=re.S)
    return (re.findall(r"<(?:script|link|img|iframe)[^>]+(?:src|href)\s*=", markup)
            + re.findall(r"<script[^>]*\bsrc=", text))


def test_svg_only_replaces_webgl_traces():
    import plotly.graph_objects as go

    fig = go.Figure([go.Scattergl(x=[1, 2], y=[3, 4], name="a"), go.Bar(x=[1], y=[2])])
    out = svg_only(fig)
    assert [t.type for t in out.data] == ["scatter", "bar"] and list(out.data[0].y) == [3, 4]


def test_multiclass_report_is_self_contained(settings, tmp_path):
    rid, _, _ = multiclass_run(settings)
    out = write_report(settings, load_run(settings, rid), tmp_path / "mc.html")
    text = (tmp_path / "mc.html").read_text()
    assert out["format"] == "html"
    assert out["sections"] == ["summary", "metrics", "shap global", "shap local"]
    assert "bronze" in text and "Confusion matrix" in text and not _external_refs(text)
    # a run saved without a model (scores only) says why its SHAP section is empty
    assert "No SHAP explanation" in text and "no model file" in text


def test_missing_folder_and_missing_chromium(settings, tmp_path, monkeypatch):
    rid, _, _ = multiclass_run(settings)
    with pytest.raises(ReportError, match="does not exist"):
        write_report(settings, load_run(settings, rid), tmp_path / "nope" / "r.html")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("LIFTLAB_CHROMIUM", raising=False)
    with pytest.raises(ReportError, match="Chromium, which is not installed"):
        find_chromium()


@pytest.mark.slow
def test_binary_report_html_every_section_and_values(bank_ws, tmp_path):
    s, runs = bank_ws
    run = load_run(s, runs["hgb"])
    opts = ReportOptions(threshold=0.3, rows=120, scenario={"contact_cost": 5,
                                                            "conversion_value": 100,
                                                            "fraction": 0.2})
    out = write_report(s, run, tmp_path / "r.html", opts)
    text = (tmp_path / "r.html").read_text()
    assert out["sections"] == [*SECTIONS, "business scenario"] and out["threshold"] == 0.3
    assert not _external_refs(text) and "Plotly" in text and len(text) > 3_000_000
    assert text.count('class="chart"') >= 12
    for heading in ("Intended use", "Limitations", "Metrics at threshold 0.3000", "Segments by",
                    "Highest score", "Lowest score", "Additivity", "Business scenario",
                    "Profile highlights", "TreeExplainer"):
        assert heading in text, heading
    # the reviewer sees what was left out, and that the leaking column was among it
    assert "Excluded: duration." in text and "Columns left out of the model: duration." in text
    assert re.search(r"Possible leakage: &#x27;duration&#x27;[^<]*This run excludes it\.", text) \
        or re.search(r"Possible leakage: 'duration'[^<]*This run excludes it\.", text)
    code = main(["--data-dir", str(s.data_dir), "evaluate", runs["hgb"], "--threshold", "0.3"])
    assert code == 0


@pytest.mark.slow
@pytest.mark.browser
def test_pdf_via_cli(bank_ws, tmp_path, capsys):
    s, runs = bank_ws
    pdf = tmp_path / "review.pdf"
    code = main(["--data-dir", str(s.data_dir), "report", runs["logreg"], "--out", str(pdf),
                 "--rows", "80"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["format"] == "pdf" and out["sections"] == SECTIONS
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 6
    code = main(["--data-dir", str(s.data_dir), "report", runs["logreg"], "--out",
                 str(tmp_path / "x.html"), "--contact-cost", "5"])
    assert code == 2 and "both --contact-cost and --conversion-value" in capsys.readouterr().err


def test_scenario_numbers_read_as_on_the_impact_page(settings):
    from core.report._explain import scenario_section, scenario_value

    assert [scenario_value(k, v) for k, v in (
        ("fraction", 0.2), ("profit_model", 26754.0), ("conversion_lift", 3.256),
        ("targeted", 1648), ("conversions_random", 185.645), ("roi_model", 3.2),
        ("profit_model", None))] == ["20.0%", "26,754", "3.26×", "1,648", "186", "320.0%",
                                     "undefined"]
    # a scenario the Impact page computed is reported with its very numbers, not re-simulated
    summary = {"fraction": 0.2, "targeted": 1648, "conversions_model": 601.0,
               "profit_model": 51860.0, "ci95": {"conversions_model": [561.2, 647.4],
                                                 "profit_model": [24764.0, 29055.3]}}
    curve = {"fraction": [0.0, 0.5, 1.0], "profit_model": [0.0, 5.0, 1.0],
             "profit_random": [0.0, 1.0, 0.5]}
    html = scenario_section(settings, None, None, {"contact_cost": 1, "conversion_value": 2},
                            {"title": "Scenario from the Impact page", "summary": summary,
                             "curve": curve})
    assert "Scenario from the Impact page" in html
    assert "<td>95% interval: Conversions (model)</td><td>561 – 647</td>" in html
    assert "<td>95% interval: Profit (model)</td><td>24,764 – 29,055</td>" in html
    assert "<td>Profit (model)</td><td>51,860</td>" in html and ".000" not in html


def test_headings_print_with_their_charts_and_fairness_section(bank_ws, tmp_path):
    # The PDF's page breaks separated a heading from its chart: each heading is now kept on
    # one page with the part after it.
    from core.report._html import section

    html = section("Curves", "<h3>ROC</h3>", "<div class='chart'>c</div>", "<p>after</p>")
    assert html == ('<section><div class="keep"><h2>Curves</h2><h3>ROC</h3>'
                    "<div class='chart'>c</div></div><p>after</p></section>")
    s, runs = bank_ws
    run = load_run(s, runs["hgb"])
    out = write_report(s, run, tmp_path / "f.html", ReportOptions(threshold=0.3, rows=60,
                                                                  fairness_by="marital"))
    text = (tmp_path / "f.html").read_text()
    assert "fairness" in out["sections"]
    assert "Demographic parity difference" in text and "Equalised odds ratio" in text
    assert ".keep{page-break-inside:avoid;break-inside:avoid}" in text
    bad = write_report(s, run, tmp_path / "g.html", ReportOptions(rows=60, fairness_by="nope"))
    assert "fairness" in bad["sections"]
    assert "could not be computed" in (tmp_path / "g.html").read_text()
