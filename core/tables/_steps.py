"""The steps of a preparation recipe, each as a *fit* (learn numbers from the data) and an
*apply* (build SQL from those numbers, in ``_apply``), so a fitted recipe replays on new data
unchanged.

A step never sees pandas: it reads statistics with SQL aggregates over the current relation and
returns a new relation (SQL text plus named, bound parameters). Identifiers go through
``quote_ident``; values are always parameters. Every relation carries the source rows' file
order in a hidden column (``ORDER_COL``), so a step that keeps one row of several keeps the
first in file order and the written table keeps the file's order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb

from core.errors import SchemaError
from core.tables._dates import (
    ISO_FORMATS,
    date_readings,
    formats_in_use,
    text_date_formats,
    unparsed_examples,
)
from core.tables._kinds import kind_of
from core.warehouse import clean_name, quote_ident, table_columns

STEP_KINDS = ("drop_columns", "rename", "drop_duplicates", "filter", "impute", "clip", "scale",
              "encode", "log", "date_parts", "bin")
METHODS = {
    "impute": ("mean", "median", "mode", "constant"),
    "clip": ("iqr", "quantile"),
    "scale": ("standard", "minmax"),
    "encode": ("onehot", "ordinal"),
    "log": ("log1p", "signed"),
    "bin": ("width", "quantile"),
    "filter": ("==", "!=", "<", "<=", ">", ">=", "is missing", "is not missing"),
    "date_parts": ("date", "day_first", "month_first"),
}
DEFAULT_VALUE = {"clip": 1.5, "encode": 20, "bin": 5}
ORDER_COL = "__liftlab_row"
_NUMERIC_ONLY = ("clip", "scale", "log", "bin")
_NUMBER_VALUE = ("clip", "encode", "bin")
_SAFE_TYPE = re.compile(r"[A-Z][A-Z0-9_ ]*(\([0-9]+(, ?[0-9]+)?\))?")


@dataclass(frozen=True)
class Step:
    """One recipe step as the analyst configured it.

    Attributes:
        kind: One of ``STEP_KINDS``.
        columns: Columns the step works on (for ``filter`` and ``rename``: exactly one; for
            ``drop_duplicates``: the key columns, all when empty).
        method: The variant (see ``METHODS``); the first one when None.
        value: ``impute`` constant, ``filter`` value, ``rename`` new name, ``clip`` IQR
            multiplier (iqr) or lower quantile (quantile), ``encode`` maximum categories,
            ``bin`` number of bins.

    Raises:
        SchemaError: Unknown kind or method, missing columns, or a value the step cannot use
            (a number that is not one, a rename without a usable new name).
    """

    kind: str
    columns: tuple[str, ...] = ()
    method: str | None = None
    value: str | float | None = None

    def __post_init__(self) -> None:
        if self.kind not in STEP_KINDS:
            raise SchemaError(f"Unknown step '{self.kind}'. Steps: {', '.join(STEP_KINDS)}.")
        cols = (self.columns,) if isinstance(self.columns, str) else tuple(self.columns)
        if not all(isinstance(c, str) and c for c in cols):
            raise SchemaError(f"Step '{self.kind}' columns must be column names (text); got "
                              f"{list(cols)!r}.")
        object.__setattr__(self, "columns", cols)
        allowed = METHODS.get(self.kind)
        if allowed and self.method is None:
            object.__setattr__(self, "method", allowed[0])
        if allowed and self.method not in allowed:
            raise SchemaError(f"Step '{self.kind}' method must be one of {', '.join(allowed)}; "
                              f"got {self.method!r}.")
        if not self.columns and self.kind not in ("drop_duplicates",):
            raise SchemaError(f"Step '{self.kind}' needs at least one column.")
        if self.kind in ("filter", "rename") and len(self.columns) != 1:
            raise SchemaError(f"A {self.kind} step works on exactly one column.")
        self._check_value()

    def _check_value(self) -> None:
        empty = self.value is None or (isinstance(self.value, str) and not self.value.strip())
        if self.kind == "impute" and self.method == "constant" and empty:
            raise SchemaError("Impute with a constant needs the constant value.")
        if self.kind == "filter" and "missing" not in str(self.method) and empty:
            raise SchemaError(f"A filter with '{self.method}' needs a value to compare with.")
        if self.kind == "rename" and (empty or not clean_name(str(self.value), "")):
            raise SchemaError(f"Renaming '{self.columns[0]}' needs a new name with letters or "
                              f"digits; got {self.value!r}.")
        if self.kind in _NUMBER_VALUE and not empty:
            try:
                number = float(self.value)
            except (TypeError, ValueError):
                number = math.nan
            whole = self.kind in ("encode", "bin")
            if not math.isfinite(number) or (whole and number != int(number)):
                raise SchemaError(f"Step '{self.kind}' needs {'a whole' if whole else 'a'} "
                                  f"number as its value; got {self.value!r}.")

    def label(self) -> str:
        """A short description, e.g. ``impute median: age, income``."""
        cols = ", ".join(self.columns) or "all columns"
        if self.kind == "rename":
            return f"rename: {cols} → {self.value}"
        method = f" {self.method}" if self.method else ""
        value = "" if self.value in (None, "") else (
            f" {self.value:g}" if isinstance(self.value, float) else f" {self.value}")
        return f"{self.kind.replace('_', ' ')}{method}{value}: {cols}"


@dataclass
class Rel:
    """A relation under construction: SQL text and its named parameters.

    The relation has a hidden column ``ORDER_COL`` (the source row's position in file order)
    that :meth:`columns` does not list; steps that name their columns keep it with
    :meth:`project`.
    """

    sql: str
    params: dict = field(default_factory=dict)

    @classmethod
    def of_table(cls, con: duckdb.DuckDBPyConnection, table: str) -> Rel:
        """A table's rows with their file order in the hidden column (see
        :func:`file_order_sql`)."""
        return cls(f"SELECT *, {file_order_sql(con, table)} AS {quote_ident(ORDER_COL)} "
                   f"FROM {quote_ident(table)}")

    def bind(self, value) -> str:
        """Add a parameter; returns its placeholder (``$p3``)."""
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def columns(self, con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
        """``(name, DuckDB type)`` of every visible column, without reading rows."""
        cur = con.execute(f"SELECT * FROM ({self.sql}) LIMIT 0", self.params)
        return [(d[0], str(d[1])) for d in cur.description if d[0] != ORDER_COL]

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

    def project(self, items: list[str]) -> Rel:
        """A new relation of the SQL ``items`` (``expr AS name``), keeping the file order."""
        return self.wrap(", ".join([*items, quote_ident(ORDER_COL)]))

    def ordered_sql(self) -> str:
        """The visible columns in file order: what is written and previewed."""
        return (f"SELECT * EXCLUDE ({quote_ident(ORDER_COL)}) FROM ({self.sql}) AS r "
                f"ORDER BY {quote_ident(ORDER_COL)}")


def file_order_sql(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """SQL for a row's position in a table's file order: DuckDB's ``rowid`` (insertion order;
    LiftLab never modifies a table it wrote), or the scan's row number when a column called
    ``rowid`` hides it."""
    names = {c.lower() for c, _ in table_columns(con, table)}
    return "row_number() OVER () - 1" if "rowid" in names else "rowid"


def sql_type(typ: str, column: str) -> str:
    """A column's DuckDB type, checked before it is written into a CAST.

    Raises:
        SchemaError: A nested or unusual type (lists, structs), which a step cannot compare a
            value with.
    """
    if not _SAFE_TYPE.fullmatch(typ):
        raise SchemaError(f"Column '{column}' has type {typ}, which this step cannot compare "
                          f"a value with. Use a column of numbers, text or dates.")
    return typ


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
        JSON-ready parameters for :func:`core.tables._apply.apply_step`.

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
        for c in step.columns:
            sql_type(types[c], c)
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
    limit = int(float(step.value) if step.value not in (None, "") else DEFAULT_VALUE["encode"])
    if limit < 1:
        raise SchemaError(f"Encoding keeps at least 1 category; got {limit}.")
    out = {}
    for c in step.columns:
        rows = rel.all(con, f"CAST({_q(c)} AS VARCHAR) AS v, count(*) AS n", {"lim": limit},
                       f"WHERE {_q(c)} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT $lim")
        values = [v for v, _ in rows]
        out[c] = sorted(values) if step.method == "ordinal" else values
    return out


def _fit_log(con, rel, step, types) -> dict:
    """``log1p`` (ln(1 + x)) is fitted on values >= 0 only and refuses others, counting them;
    ``signed`` (sign(x)·ln(1 + |x|), defined everywhere) learns nothing."""
    if step.method == "signed":
        return {}
    row = rel.one(con, ", ".join(f"count_if({_num(c)} < 0), min({_num(c)})" for c in step.columns))
    negative = [f"{c} has {row[2 * i]:,} value(s) below 0 (min {row[2 * i + 1]:g})"
                for i, c in enumerate(step.columns) if row[2 * i]]
    if negative:
        raise SchemaError(f"Log transform log1p (ln(1 + x)) needs values >= 0; "
                          f"{'; '.join(negative)}. Use the method 'signed' "
                          f"(sign(x)·ln(1 + |x|), defined for negative values), clip the "
                          f"values first, or leave the column out.")
    return {}


def _fit_bin(con, rel, step, types) -> dict:
    n = int(float(step.value) if step.value not in (None, "") else DEFAULT_VALUE["bin"])
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
    """Text columns are read with the chosen order's formats that read a value here, then the
    ISO formats (stored, so a replay reads the same way; a value written another way is
    counted in the replay's notes); refused when the order is not chosen, or when it reads no
    value at all."""
    text = [c for c in step.columns if kind_of(types[c]) == "text"]
    other = [c for c in step.columns if kind_of(types[c]) not in ("text", "date")]
    if other:
        raise SchemaError(f"Date parts need date or text columns; {', '.join(other)} are not.")
    source = f"({rel.sql}) AS r"
    if text and step.method == "date":
        found = "; ".join(f"'{c}': {date_readings(con, source, c, rel.params, False).sentence()}"
                          for c in text)
        raise SchemaError(f"{', '.join(text)} hold dates as text; choose day-first or "
                          f"month-first so they are read the right way round ({found}).")
    out = {}
    for c in text:
        formats = text_date_formats(step.method)
        used = formats_in_use(con, source, rel.params, c, formats)
        if not used:
            seen = unparsed_examples(con, source, rel.params, c, formats)
            raise SchemaError(f"No value of '{c}' reads as a {step.method.replace('_', '-')} "
                              f"date (e.g. {', '.join(repr(v) for v in seen)}). Check the "
                              f"column, or choose the other order.")
        out[c] = used + [f for f in ISO_FORMATS if f not in used]  # unambiguous, tried last
    return {"formats": out}


def _fit_rename(con, rel, step, types) -> dict:
    old, new = step.columns[0], clean_name(str(step.value), "")
    check_rename(old, new, types)
    return {"to": new}


def check_rename(old: str, new: str, types: dict[str, str]) -> None:
    """Refuse a new name that another column already has (names compare without case).

    Raises:
        SchemaError: The clash, naming both columns.
    """
    clash = next((c for c in types if c.lower() == new.lower() and c != old), None)
    if clash is not None:
        raise SchemaError(f"Cannot rename '{old}' to '{new}': the data already has a column "
                          f"'{clash}' at that point (names are compared without case). Choose "
                          f"another name, or drop or rename '{clash}' first.")


_FITTERS = {"impute": _fit_impute, "clip": _fit_clip, "scale": _fit_scale, "encode": _fit_encode,
            "log": _fit_log, "bin": _fit_bin, "date_parts": _fit_date_parts,
            "rename": _fit_rename}
