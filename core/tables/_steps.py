"""The steps of a preparation recipe, each as a *fit* (learn numbers from the data) and an
*apply* (build SQL from those numbers), so a fitted recipe replays on new data unchanged.

A step never sees pandas: it reads statistics with SQL aggregates over the current relation and
returns a new relation (SQL text plus named, bound parameters). Identifiers go through
``quote_ident``; values are always parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import duckdb

from core.errors import SchemaError
from core.tables._profile import kind_of
from core.warehouse import clean_name, quote_ident

STEP_KINDS = ("drop_columns", "drop_duplicates", "filter", "impute", "clip", "scale", "encode",
              "log", "date_parts", "bin")
METHODS = {
    "impute": ("mean", "median", "mode", "constant"),
    "clip": ("iqr", "quantile"),
    "scale": ("standard", "minmax"),
    "encode": ("onehot", "ordinal"),
    "bin": ("width", "quantile"),
    "filter": ("==", "!=", "<", "<=", ">", ">=", "is missing", "is not missing"),
    "date_parts": ("date", "day_first", "month_first"),
}
DEFAULT_VALUE = {"clip": 1.5, "encode": 20, "bin": 5}
_NUMERIC_ONLY = ("clip", "scale", "log", "bin")
_TEXT_DATE_FORMATS = {"day_first": ["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"],
                      "month_first": ["%m/%d/%Y", "%m-%d-%Y", "%Y-%m-%d"]}


@dataclass(frozen=True)
class Step:
    """One recipe step as the analyst configured it.

    Attributes:
        kind: One of ``STEP_KINDS``.
        columns: Columns the step works on (for ``filter``: exactly one; for
            ``drop_duplicates``: the key columns, all when empty).
        method: The variant (see ``METHODS``); the first one when None.
        value: ``impute`` constant, ``filter`` value, ``clip`` IQR multiplier (iqr) or lower
            quantile (quantile), ``encode`` maximum categories, ``bin`` number of bins.
    """

    kind: str
    columns: tuple[str, ...] = ()
    method: str | None = None
    value: str | float | None = None

    def __post_init__(self) -> None:
        if self.kind not in STEP_KINDS:
            raise SchemaError(f"Unknown step '{self.kind}'. Steps: {', '.join(STEP_KINDS)}.")
        object.__setattr__(self, "columns", tuple(self.columns))
        allowed = METHODS.get(self.kind)
        if allowed and self.method is None:
            object.__setattr__(self, "method", allowed[0])
        if allowed and self.method not in allowed:
            raise SchemaError(f"Step '{self.kind}' method must be one of {', '.join(allowed)}; "
                              f"got {self.method!r}.")
        if not self.columns and self.kind not in ("drop_duplicates",):
            raise SchemaError(f"Step '{self.kind}' needs at least one column.")
        if self.kind == "filter" and len(self.columns) != 1:
            raise SchemaError("A filter step works on exactly one column.")
        if self.kind == "impute" and self.method == "constant" and self.value in (None, ""):
            raise SchemaError("Impute with a constant needs the constant value.")

    def label(self) -> str:
        """A short description, e.g. ``impute median: age, income``."""
        cols = ", ".join(self.columns) or "all columns"
        method = f" {self.method}" if self.method else ""
        value = "" if self.value in (None, "") else (
            f" {self.value:g}" if isinstance(self.value, float) else f" {self.value}")
        return f"{self.kind.replace('_', ' ')}{method}{value}: {cols}"


@dataclass
class Rel:
    """A relation under construction: SQL text and its named parameters."""

    sql: str
    params: dict = field(default_factory=dict)

    def bind(self, value) -> str:
        """Add a parameter; returns its placeholder (``$p3``)."""
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def columns(self, con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
        """``(name, DuckDB type)`` of every column, without reading rows."""
        cur = con.execute(f"SELECT * FROM ({self.sql}) LIMIT 0", self.params)
        return [(d[0], str(d[1])) for d in cur.description]

    def one(self, con: duckdb.DuckDBPyConnection, select: str, extra: dict | None = None,
            tail: str = "") -> tuple:
        """Run ``SELECT <select> FROM rel <tail>`` with ``extra`` named parameters; one row."""
        return self.all(con, select, extra, tail)[0]

    def all(self, con: duckdb.DuckDBPyConnection, select: str, extra: dict | None = None,
            tail: str = "") -> list[tuple]:
        """Run ``SELECT <select> FROM rel <tail>`` with ``extra`` named parameters; all rows."""
        sql = f"SELECT {select} FROM ({self.sql}) AS r {tail}"
        return con.execute(sql, {**self.params, **(extra or {})}).fetchall()

    def wrap(self, select: str, where: str = "") -> Rel:
        """A new relation selecting ``select`` from this one (parameters are shared)."""
        return Rel(f"SELECT {select} FROM ({self.sql}) AS r {where}".strip(), dict(self.params))


def _check_columns(step: Step, types: dict[str, str]) -> None:
    missing = [c for c in step.columns if c not in types]
    if missing:
        raise SchemaError(f"Step '{step.label()}' uses column(s) {', '.join(missing)} that the "
                          f"data does not have at that point. Columns: {', '.join(types)}.")
    if step.kind in _NUMERIC_ONLY or (step.kind == "impute" and step.method in ("mean", "median")):
        wrong = [c for c in step.columns if kind_of(types[c]) != "numeric"]
        if wrong:
            raise SchemaError(f"Step '{step.label()}' needs numeric columns; "
                              f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not. "
                              f"Encode or drop them instead.")


def fit_step(con: duckdb.DuckDBPyConnection, rel: Rel, step: Step) -> dict:
    """Learn the numbers a step needs from the current data (means, bounds, categories, edges).

    Args:
        con: Open connection.
        rel: The data as it is before this step.
        step: The step.

    Returns:
        JSON-ready parameters for :func:`apply_step`.

    Raises:
        SchemaError: Missing or wrongly typed columns, or data the step cannot handle.
    """
    types = dict(rel.columns(con))
    _check_columns(step, types)
    fitter = _FITTERS.get(step.kind)
    return fitter(con, rel, step, types) if fitter else {}


def _q(col: str) -> str:
    return quote_ident(col)


def _num(col: str) -> str:
    """A column as DOUBLE, so statistics come back as floats even for DECIMAL columns."""
    return f"CAST({quote_ident(col)} AS DOUBLE)"


def _fit_impute(con, rel, step, types) -> dict:
    if step.method == "constant":
        return {c: step.value for c in step.columns}
    if step.method == "mode":
        row = rel.one(con, ", ".join(f"mode({_q(c)})" for c in step.columns))
    else:
        agg = "avg" if step.method == "mean" else "median"
        row = rel.one(con, ", ".join(f"{agg}({_num(c)})" for c in step.columns))
    values = {c: (v if isinstance(v, int | float | str) or v is None else
                  float(v) if isinstance(v, Decimal) else str(v))
              for c, v in zip(step.columns, row)}
    empty = [c for c, v in values.items() if v is None]
    if empty:
        raise SchemaError(f"Cannot impute {', '.join(empty)}: no values to learn from.")
    return values


def _fit_clip(con, rel, step, types) -> dict:
    out = {}
    for c in step.columns:
        if step.method == "iqr":
            k = float(step.value if step.value not in (None, "") else DEFAULT_VALUE["clip"])
            q1, q3 = rel.one(con, f"quantile_cont({_num(c)}, 0.25), quantile_cont({_num(c)}, 0.75)")
            lo, hi = (None, None) if q1 is None else (q1 - k * (q3 - q1), q3 + k * (q3 - q1))
        else:
            q = float(step.value if step.value not in (None, "") else 0.01)
            if not 0 < q < 0.5:
                raise SchemaError(f"The clip quantile must be between 0 and 0.5; got {q}.")
            lo, hi = rel.one(con, f"quantile_cont({_num(c)}, $lo), quantile_cont({_num(c)}, $hi)",
                             {"lo": q, "hi": 1 - q})
        out[c] = [lo, hi]
    return out


def _fit_scale(con, rel, step, types) -> dict:
    aggs = ("avg({0}), stddev_pop({0})" if step.method == "standard" else "min({0}), max({0})")
    row = rel.one(con, ", ".join(aggs.format(_num(c)) for c in step.columns))
    out = {}
    for i, c in enumerate(step.columns):
        a, b = row[2 * i], row[2 * i + 1]
        if step.method == "standard":
            out[c] = [float(a or 0.0), float(b) if b else 1.0]
        else:
            out[c] = [float(a or 0.0), float(b - a) if a is not None and b != a else 1.0]
    return out


def _fit_encode(con, rel, step, types) -> dict:
    limit = int(step.value if step.value not in (None, "") else DEFAULT_VALUE["encode"])
    out = {}
    for c in step.columns:
        rows = rel.all(con, f"CAST({_q(c)} AS VARCHAR) AS v, count(*) AS n", {"lim": limit},
                       f"WHERE {_q(c)} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT $lim")
        values = [v for v, _ in rows]
        out[c] = sorted(values) if step.method == "ordinal" else values
    return out


def _fit_log(con, rel, step, types) -> dict:
    row = rel.one(con, ", ".join(f"min({_num(c)})" for c in step.columns))
    negative = [f"{c} (min {v:g})" for c, v in zip(step.columns, row) if v is not None and v < 0]
    if negative:
        raise SchemaError(f"Log transform needs values >= 0; {', '.join(negative)} "
                          f"{'has' if len(negative) == 1 else 'have'} negative values. Clip or "
                          f"leave them out.")
    return {}


def _fit_bin(con, rel, step, types) -> dict:
    n = int(step.value if step.value not in (None, "") else DEFAULT_VALUE["bin"])
    if not 2 <= n <= 50:
        raise SchemaError(f"Number of bins must be between 2 and 50; got {n}.")
    out = {}
    for c in step.columns:
        if step.method == "width":
            lo, hi = rel.one(con, f"min({_num(c)}), max({_num(c)})")
            edges = [] if lo is None else [lo + (hi - lo) * i / n for i in range(1, n)]
        else:
            qs = [i / n for i in range(1, n)]
            edges = rel.one(con, f"quantile_cont({_num(c)}, $qs)", {"qs": qs})[0] or []
        out[c] = sorted({float(e) for e in edges})
    return out


def _fit_date_parts(con, rel, step, types) -> dict:
    text = [c for c in step.columns if kind_of(types[c]) == "text"]
    other = [c for c in step.columns if kind_of(types[c]) not in ("text", "date")]
    if other:
        raise SchemaError(f"Date parts need date or text columns; {', '.join(other)} are not.")
    if text and step.method == "date":
        raise SchemaError(f"{', '.join(text)} hold dates as text; choose day-first or "
                          f"month-first so they are read the right way round.")
    return {}


_FITTERS = {"impute": _fit_impute, "clip": _fit_clip, "scale": _fit_scale, "encode": _fit_encode,
            "log": _fit_log, "bin": _fit_bin, "date_parts": _fit_date_parts}


# ---------------------------------------------------------------- apply


def _new_name(base: str, taken: set[str]) -> str:
    name, k = clean_name(base, "column"), 2
    stem = name
    while name.lower() in taken:
        name, k = f"{stem}_{k}", k + 1
    taken.add(name.lower())
    return name


def _replace_cols(rel: Rel, cols: list[tuple[str, str]], exprs: dict[str, str]) -> Rel:
    select = ", ".join(f"{exprs[c]} AS {_q(c)}" if c in exprs else _q(c) for c, _ in cols)
    return rel.wrap(select)


def _apply_filter(rel: Rel, step: Step, cols) -> Rel:
    c, op = step.columns[0], step.method
    if op in ("is missing", "is not missing"):
        return rel.wrap("*", f"WHERE {_q(c)} IS {'NOT ' if op == 'is not missing' else ''}NULL")
    typ = dict(cols)[c]
    value = f"CAST({rel.bind(str(step.value))} AS {typ})"
    sql_op = "=" if op == "==" else op
    return rel.wrap("*", f"WHERE {_q(c)} {sql_op} {value}")


def _apply_encode(rel: Rel, step: Step, params: dict, cols) -> Rel:
    taken = {c.lower() for c, _ in cols}
    exprs, added = {}, []
    for c in step.columns:
        values = params[c]
        if step.method == "ordinal":
            cases = " ".join(f"WHEN CAST({_q(c)} AS VARCHAR) = {rel.bind(v)} THEN {i}"
                             for i, v in enumerate(values))
            exprs[c] = f"CASE WHEN {_q(c)} IS NULL THEN NULL {cases} ELSE -1 END"
            continue
        for v in values:
            name = _new_name(f"{c}_{v}", taken)
            added.append(f"CASE WHEN CAST({_q(c)} AS VARCHAR) = {rel.bind(v)} THEN 1 ELSE 0 END "
                         f"AS {_q(name)}")
    keep = [c for c, _ in cols if not (step.method == "onehot" and c in step.columns)]
    select = [f"{exprs[c]} AS {_q(c)}" if c in exprs else _q(c) for c in keep] + added
    return rel.wrap(", ".join(select))


def _apply_date_parts(rel: Rel, step: Step, cols) -> Rel:
    types = dict(cols)
    taken = {c.lower() for c, _ in cols}
    parts = []
    for c in step.columns:
        d = _q(c)
        if kind_of(types[c]) == "text":
            d = f"CAST(try_strptime(trim({_q(c)}), {rel.bind(_TEXT_DATE_FORMATS[step.method])}) AS DATE)"
        for part, fn in (("year", "year"), ("month", "month"), ("day", "day"),
                         ("weekday", "isodow")):
            parts.append(f"{fn}({d}) AS {_q(_new_name(f'{c}_{part}', taken))}")
    return rel.wrap(", ".join(["*"] + parts))


def _apply_bin(rel: Rel, step: Step, params: dict, cols) -> Rel:
    taken = {c.lower() for c, _ in cols}
    added = []
    for c in step.columns:
        edges = params[c]
        bounds = [None, *edges, None]
        labels = [f"< {hi:.4g}" if lo is None else f">= {lo:.4g}" if hi is None
                  else f"{lo:.4g}–{hi:.4g}" for lo, hi in zip(bounds, bounds[1:])]
        cases = " ".join(f"WHEN {_q(c)} < {rel.bind(e)} THEN {rel.bind(lab)}"
                         for e, lab in zip(edges, labels))
        added.append(f"CASE WHEN {_q(c)} IS NULL THEN NULL {cases} ELSE {rel.bind(labels[-1])} "
                     f"END AS {_q(_new_name(f'{c}_bin', taken))}")
    return rel.wrap(", ".join(["*"] + added))


def _numeric_exprs(rel: Rel, step: Step, params: dict, types: dict[str, str]) -> dict[str, str]:
    exprs = {}
    for c in step.columns:
        q = _q(c)
        if step.kind == "impute" and step.method == "constant":
            exprs[c] = f"COALESCE({q}, CAST({rel.bind(str(params[c]))} AS {types[c]}))"
        elif step.kind == "impute":
            exprs[c] = f"COALESCE({q}, {rel.bind(params[c])})"
        elif step.kind == "clip":
            lo, hi = params[c]
            exprs[c] = q if lo is None else f"least(greatest({q}, {rel.bind(lo)}), {rel.bind(hi)})"
        elif step.kind == "scale":
            a, b = params[c]
            exprs[c] = f"(CAST({q} AS DOUBLE) - {rel.bind(a)}) / {rel.bind(b)}"
        elif step.kind == "log":
            exprs[c] = f"CASE WHEN {q} >= 0 THEN ln(1 + CAST({q} AS DOUBLE)) END"
    return exprs


def apply_step(rel: Rel, step: Step, params: dict, cols: list[tuple[str, str]]) -> Rel:
    """The relation after one fitted step.

    Args:
        rel: The relation before the step.
        step: The step.
        params: What :func:`fit_step` learned.
        cols: ``(name, type)`` of ``rel``'s columns.

    Returns:
        A new :class:`Rel`.
    """
    rel = Rel(rel.sql, dict(rel.params))  # binding below must not touch the caller's relation
    if step.kind == "drop_columns":
        return rel.wrap(f"* EXCLUDE ({', '.join(_q(c) for c in step.columns)})")
    if step.kind == "drop_duplicates":
        if not step.columns:
            return rel.wrap("DISTINCT *")
        return rel.wrap(f"DISTINCT ON ({', '.join(_q(c) for c in step.columns)}) *")
    if step.kind == "filter":
        return _apply_filter(rel, step, cols)
    if step.kind == "encode":
        return _apply_encode(rel, step, params, cols)
    if step.kind == "date_parts":
        return _apply_date_parts(rel, step, cols)
    if step.kind == "bin":
        return _apply_bin(rel, step, params, cols)
    return _replace_cols(rel, cols, _numeric_exprs(rel, step, params, dict(cols)))
