"""Clean names for columns and tables: trimmed, non-empty, unique, safe for SQL and Keras.

Letters of any script (e.g. Chinese) and digits are kept; every other run of characters becomes
``_``. The names as written are kept by the caller (the catalog) for display.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

MAX_NAME_LENGTH = 60


def clean_name(text: str, fallback: str) -> str:
    """One header made SQL- and Keras-safe (``"Monthly Charges ($)"`` -> ``Monthly_Charges``).

    Args:
        text: The header as written.
        fallback: Name to use when nothing usable is left (e.g. ``column_4``).

    Returns:
        The clean name, at most ``MAX_NAME_LENGTH`` characters, never starting with a digit.
    """
    text = unicodedata.normalize("NFC", str(text or "")).strip()
    base = re.sub(r"[^\w]+", "_", text, flags=re.UNICODE).strip("_") or fallback
    base = base[:MAX_NAME_LENGTH].rstrip("_") or fallback
    return f"c_{base}" if base[:1].isdigit() else base  # empty only with an empty fallback


def clean_column_names(raw: list[str]) -> tuple[list[str], list[str]]:
    """Make headers trimmed, non-empty, unique (case-insensitively) and safe for SQL and Keras.

    Args:
        raw: Headers as written in the file, length n_columns.

    Returns:
        ``(names, warnings)``: the clean names (same length) and one message per rename.

    Example:
        >>> clean_column_names(["id", "amount", "amount", ""])[0]
        ['id', 'amount', 'amount_2', 'column_4']
    """
    names: list[str] = []
    seen: set[str] = set()
    warnings: list[str] = []
    for i, original in enumerate(raw, start=1):
        base = clean_name(original, f"column_{i}")
        name, k = base, 2
        while name.lower() in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name.lower())
        names.append(name)
        if name != original:
            shown = repr(original) if original is not None else "(missing)"
            warnings.append(f"Column {i} header {shown} renamed to '{name}'.")
    return names, warnings


def default_table_name(filename: str) -> str:
    """Derive a table name from a file name (``Bank Data (2).csv`` -> ``bank_data_2``)."""
    stem = Path(filename).stem.lower()
    name = re.sub(r"[^\w]+", "_", stem, flags=re.UNICODE).strip("_")[:MAX_NAME_LENGTH] or "table"
    return f"t_{name}" if name[0].isdigit() else name
