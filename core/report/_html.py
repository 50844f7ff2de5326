"""HTML building blocks of the review report: escaped text, tables, charts, sections and the
self-contained page (plotly.js inline, so the file opens offline)."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

FIGURE_WIDTH = 720


def _e(value) -> str:
    return html.escape(str(value))


def _num(v, pattern: str = "{:.3f}") -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "undefined"
    if isinstance(v, bool | np.bool_):
        return str(v)
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        if v != 0 and abs(v) < 0.001:  # e.g. a learning rate of 3e-4, not "0.000"
            return f"{v:.2g}"
        return pattern.format(v)
    return str(v)


def table_html(df: pd.DataFrame, pattern: str = "{:.3f}") -> str:
    """An HTML table of a DataFrame; undefined numbers read 'undefined'."""
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(_num(v, pattern))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv(pairs: list[tuple[str, object]]) -> str:
    return table_html(pd.DataFrame(pairs, columns=["", "value"]))


def svg_only(fig: go.Figure) -> go.Figure:
    """A copy of a figure with WebGL traces redrawn as SVG (WebGL does not print)."""
    data = [go.Scatter(**{k: v for k, v in t.to_plotly_json().items() if k != "type"})
            if t.type == "scattergl" else t for t in fig.data]
    return go.Figure(data=data, layout=fig.layout)


def figure_html(fig: go.Figure) -> str:
    """One chart as an HTML fragment (plotly.js is embedded once in the page head)."""
    fig = svg_only(fig)
    fig.update_layout(width=FIGURE_WIDTH, autosize=False, template="plotly_white")
    return ('<div class="chart">' + fig.to_html(full_html=False, include_plotlyjs=False,
                                                config={"displayModeBar": False,
                                                        "staticPlot": False}) + "</div>")


def section(title: str, *parts: str, anchor: str = "") -> str:
    """A report section: heading and body parts.

    A heading is kept on one printed page with the part after it (``<div class="keep">``,
    ``break-inside: avoid``), so a page break never leaves a heading at the foot of a page
    and its chart or table on the next; a sub-heading part (``<h3>``) likewise.
    """
    ident = f' id="{_e(anchor)}"' if anchor else ""
    body: list[str] = []
    pending: str | None = f"<h2>{_e(title)}</h2>"
    for part in parts:
        if not part:
            continue
        heading = part.startswith("<h3")
        if pending is not None and heading:
            pending += part
        elif pending is not None:
            body.append(keep(pending + part))
            pending = None
        elif heading:
            pending = part
        else:
            body.append(part)
    if pending is not None:
        body.append(pending)
    return f"<section{ident}>{''.join(body)}</section>"


def keep(html: str) -> str:
    """Fragments that print on one page (a heading and its chart)."""
    return f'<div class="keep">{html}</div>'


def paragraph(text: str, cls: str = "") -> str:
    """An escaped paragraph."""
    return f'<p class="{cls}">{_e(text)}</p>' if cls else f"<p>{_e(text)}</p>"


def bullet_list(items: list[str]) -> str:
    """An escaped bullet list (empty string for no items)."""
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>" if items else ""


_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#222;
max-width:780px;margin:24px auto;padding:0 16px;font-size:13px;line-height:1.45}
h1{font-size:22px;margin-bottom:2px}h2{font-size:17px;border-bottom:2px solid #2c7fb8;
padding-bottom:3px;margin-top:28px}h3{font-size:14px;margin:16px 0 4px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef4fa}.muted{color:#666}.note{background:#fff7e0;border-left:4px solid #f0ad4e;
padding:4px 8px}.chart{page-break-inside:avoid;break-inside:avoid;margin:6px 0}
section{page-break-inside:auto}code{background:#f3f3f3;padding:0 3px}
.keep{page-break-inside:avoid;break-inside:avoid}
h2,h3{page-break-after:avoid;break-after:avoid}
@media print{body{margin:0 auto}}
"""


def page_html(title: str, subtitle: str, sections: list[str]) -> str:
    """The whole self-contained page (plotly.js inline, no external resource)."""
    from plotly.offline import get_plotlyjs

    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_e(title)}</title><style>{_CSS}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            f"<h1>{_e(title)}</h1>{paragraph(subtitle, 'muted')}{''.join(sections)}"
            "</body></html>")
