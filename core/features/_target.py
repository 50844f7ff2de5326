"""The target column: its labels as text, class balance, the suggested positive class, and the
task it suggests (binary, multiclass or regression)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import SchemaError
from core.warehouse import quote_ident, require_table, table_columns

YES_LIKE = ("yes", "y", "true", "t", "1", "1.0", "positive", "pos", "churn", "churned",
            "converted", "bad", "default", "fraud", "purchase", "subscribed", "是")
MAX_CATEGORIES = 50


def label_text(value) -> str:
    """Text form of a target label, stable across int/float/bool/str (``1.0`` → ``"1"``)."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class TargetSummary:
    """Class balance of a target column.

    Attributes:
        classes: Labels as text, most frequent first.
        counts: Row count of each label, same order.
        missing: Rows whose target is missing (dropped before training).
        suggested_positive: The positive class LiftLab proposes (see
            :func:`suggest_positive_class`).
        reason: Why that class was proposed, in plain words.
    """

    classes: list[str]
    counts: list[int]
    missing: int
    suggested_positive: str | None
    reason: str


def suggest_positive_class(labels: list[str], counts: list[int]) -> tuple[str, str]:
    """Propose the positive class of a binary target.

    A yes-like label (``yes``, ``true``, ``1``, ``churn`` …) wins; otherwise the rarer class,
    since the event worth predicting is usually the rare one. Never an alphabetical pick.

    Args:
        labels: The two labels as text.
        counts: Their row counts.

    Returns:
        ``(label, reason)``.
    """
    for label in labels:
        if label.strip().lower() in YES_LIKE:
            return label, f"'{label}' is the yes-like value"
    rare = labels[int(np.argmin(counts))]
    return rare, f"'{rare}' is the rarer class; choose the other one if it is the event you target"


def summarize_target(con, table: str, target: str) -> TargetSummary:
    """Count the labels of a target column in SQL.

    Args:
        con: Open warehouse connection.
        table: Table name.
        target: Column name.

    Returns:
        The :class:`TargetSummary` (suggested positive only when there are exactly 2 classes).

    Raises:
        SchemaError: The table or column does not exist.
    """
    require_table(con, table)
    cols = [c for c, _ in table_columns(con, table)]
    if target not in cols:
        raise SchemaError(
            f"Table '{table}' has no column '{target}'. Choose the target from: {', '.join(cols)}."
        )
    q = quote_ident(target)
    rows = con.execute(
        f"SELECT {q}, count(*) AS n FROM {quote_ident(table)} GROUP BY 1 ORDER BY n DESC, 1"
    ).fetchall()
    missing = sum(int(n) for v, n in rows if v is None)
    present = [(label_text(v), int(n)) for v, n in rows if v is not None]
    labels = [v for v, _ in present]
    counts = [n for _, n in present]
    pos, reason = (None, "")
    if len(labels) == 2:
        pos, reason = suggest_positive_class(labels, counts)
    return TargetSummary(labels, counts, missing, pos, reason)


def check_binary_target(summary: TargetSummary, target: str, positive: str | None) -> str:
    """Validate a binary target and settle its positive class.

    Args:
        summary: From :func:`summarize_target`.
        target: Column name (for messages).
        positive: The analyst's choice, or None for the suggestion.

    Returns:
        The positive class label as text.

    Raises:
        SchemaError: Fewer or more than two classes, or a positive class that is not a label.
    """
    n = len(summary.classes)
    if n < 2:
        only = summary.classes[0] if summary.classes else "nothing (all missing)"
        raise SchemaError(
            f"The target '{target}' has a single class ({only}); a classifier needs examples of "
            f"both outcomes. Choose another target or load data with both outcomes."
        )
    if n > 2:
        shown = ", ".join(summary.classes[:8]) + (" …" if n > 8 else "")
        raise SchemaError(
            f"The target '{target}' has {n} classes ({shown}); LiftLab trains binary targets for "
            f"now. Choose a yes/no column, or derive one (e.g. in a prepared table)."
        )
    if positive is None:
        return summary.suggested_positive
    if positive not in summary.classes:
        raise SchemaError(
            f"'{positive}' is not a value of '{target}'; its values are "
            f"{' and '.join(summary.classes)}. Pass one of them as the positive class."
        )
    return positive


MAX_CLASSES = 50
REGRESSION_MIN_DISTINCT = 20


def infer_task(con, table: str, target: str) -> tuple[str, str]:
    """Guess the task from the target column.

    Two labels → binary; a numeric column with more than 20 distinct values, or any
    non-integer value → regression; otherwise up to 50 labels → multiclass.

    Returns:
        ``(task, reason)``.

    Raises:
        SchemaError: The column is missing, or text with more than 50 labels.
    """
    summary = summarize_target(con, table, target)
    return task_of(summary, dict(table_columns(con, table))[target], target)


def task_of(summary: TargetSummary, dtype: str, target: str) -> tuple[str, str]:
    """:func:`infer_task` from a target summary already computed, the column's DuckDB type
    and its name.

    Returns:
        ``(task, reason)``.

    Raises:
        SchemaError: Text with more than 50 labels, or a single label.
    """
    numeric = any(t in dtype.upper() for t in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL"))
    n = len(summary.classes)
    if n == 2:
        return "binary", f"'{target}' has two values"
    if numeric and (n > REGRESSION_MIN_DISTINCT or any("." in c for c in summary.classes)):
        return "regression", f"'{target}' is numeric with {n} distinct values"
    if 3 <= n <= MAX_CLASSES:
        return "multiclass", f"'{target}' has {n} labels"
    if n < 2:
        check_binary_target(summary, target, None)  # raises the single-class message
    raise SchemaError(
        f"'{target}' is text with {n} distinct values; that is not a usable target (at most "
        f"{MAX_CLASSES} classes). Choose another column, or group its values first."
    )
