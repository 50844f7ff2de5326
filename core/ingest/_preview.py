"""Look at a file before loading it: encoding (with a reading per candidate when unsure),
separator, header, sheets and the first rows, read from the file's head only."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from core.errors import IngestError
from core.ingest._encodings import EncodingGuess, guess_encoding, preview_text
from core.ingest._formats import (
    EXCEL_SUFFIXES,
    JSON_SUFFIXES,
    PARQUET_SUFFIXES,
    Plan,
    excel_sheets,
    kind_of_suffix,
    plan_file,
    plan_text,
    read_head,
    suffix_of,
)
from core.ingest._options import IngestOptions
from core.warehouse import pid_tag

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class FilePreview:
    """What LiftLab detected in a file before loading it, for the analyst to confirm.

    Attributes:
        kind: ``"text"``, ``"excel"``, ``"parquet"`` or ``"json"``.
        encoding: The encoding guess (text formats), or None.
        previews: Candidate encoding -> first non-ASCII lines decoded with it.
        delimiter: Detected or chosen separator (text formats).
        header: Whether a header row was found (text formats and Excel).
        sheets: Sheet names (Excel).
        rows: The first rows as they would be loaded, of shape (<= 20, n_columns).
        warnings: Notes such as footer lines or renamed headers.
        columns: The columns' names as they would be loaded (headers as written, or
            ``column_1 …`` for a headerless file).
        markers: Missing-value markers (``?``, ``NA`` …) seen in the first rows, per column:
            ``{column: {marker: count}}``, for the analyst to confirm before loading.
    """

    kind: str
    encoding: EncodingGuess | None
    previews: dict[str, str]
    delimiter: str | None
    header: bool | None
    sheets: tuple[str, ...]
    rows: pd.DataFrame
    warnings: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    markers: dict = field(default_factory=dict)


# How a file was read, not something to check: a confidently detected (or chosen) encoding and
# the Excel sheet read. See :func:`split_notes`.
_INFO_PREFIXES = ("Encoding: ", "Read sheet ")
_INFO_SUFFIXES = ("(chosen by you).",)


def split_notes(messages: list[str]) -> tuple[list[str], list[str]]:
    """Split an ingest report's messages into informational notes and warnings.

    A confidently detected encoding (``Encoding: Windows Western (cp1252) …``), an encoding
    the analyst chose and the sheet read are notes: the file was read as intended. Renamed
    headers, dropped or footer lines, missing markers and an encoding that changed part-way
    through are warnings the analyst should look at.

    Args:
        messages: ``IngestReport.warnings`` (or the stored report's ``warnings``).

    Returns:
        ``(notes, warnings)``, each in the original order.
    """
    notes, warnings = [], []
    for m in messages:
        informational = m.startswith(_INFO_PREFIXES) or m.endswith(_INFO_SUFFIXES)
        (notes if informational else warnings).append(m)
    return notes, warnings


def _head_copy(path: Path, encoding: str, tmp: Path, lines: int = 200) -> Path:
    """The first ``lines`` lines of a text file, as UTF-8, for a quick preview."""
    text = read_head(path).decode(encoding, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    target = tmp / "head.csv"
    target.write_text("".join(text.splitlines(keepends=True)[:lines]), encoding="utf-8")
    return target


def _markers_seen(plan: Plan) -> dict[str, dict[str, int]]:
    """Missing-value markers in the first data rows (up to 500), per column as written."""
    wanted = {m.strip() for m in plan.meta.get("markers", []) if m.strip()}
    out: dict[str, dict[str, int]] = {}
    for row in plan.meta.get("head_rows", ()):
        for col, value in zip(plan.raw, row):
            if value.strip() in wanted:
                counts = out.setdefault(col, {})
                counts[value.strip()] = counts.get(value.strip(), 0) + 1
    return out


def _preview_rows(con, plan: Plan, limit: int = 20) -> pd.DataFrame:
    sql, params = plan.select(False, None)
    frame = con.execute(f"SELECT * FROM ({sql}) LIMIT {int(limit)}", params).df()
    return frame


def inspect_file(path: str | Path, source_name: str | None = None,
                 options: IngestOptions | None = None,
                 workdir: Path | None = None) -> FilePreview:
    """Detect encoding, separator, header and sheets, and read the first rows, without loading.

    Only the file's head (and an Excel sheet's first rows) is read, so this is quick for large
    files. An uncertain encoding is reported in ``encoding.certain`` with one preview per
    candidate instead of raising.

    Args:
        path: The file.
        source_name: The name the analyst knows the file by.
        options: Choices already made (encoding, delimiter, sheet, header).
        workdir: Folder for temporary copies (the workspace's ``tmp/``; system temp when None).

    Returns:
        The :class:`FilePreview`.

    Raises:
        IngestError: Unsupported, empty or unreadable file.
    """
    options = options or IngestOptions()
    path = Path(path)
    suffix = suffix_of(path, source_name or path.name)
    con = duckdb.connect()  # in memory: a preview never touches the warehouse
    with con, tempfile.TemporaryDirectory(dir=workdir,
                                          prefix=f"preview-{pid_tag()}-") as tmp_name:
        tmp = Path(tmp_name)
        if suffix in EXCEL_SUFFIXES or suffix in PARQUET_SUFFIXES or suffix in JSON_SUFFIXES:
            plan = plan_file(con, path, suffix, options, tmp)
            sheets = tuple(excel_sheets(path)) if suffix in EXCEL_SUFFIXES else ()
            return FilePreview(kind_of_suffix(suffix), None, {}, None, plan.meta.get("header"),
                               sheets, _preview_rows(con, plan), tuple(plan.warnings),
                               tuple(plan.raw))
        sample = read_head(path)
        if not sample.strip():
            raise IngestError("The file is empty: it has no header and no data rows.")
        guess = guess_encoding(sample) if not options.encoding else None
        encoding = options.encoding or guess.encoding
        previews = {e: preview_text(sample, e) for e in (guess.candidates if guess else ())}
        plan = plan_text(con, _head_copy(path, encoding, tmp), "utf-8", options, tmp)
        return FilePreview("text", guess, previews, plan.meta.get("delimiter"),
                           plan.meta.get("header"), (),
                           _preview_rows(con, plan), tuple(plan.warnings), tuple(plan.raw),
                           _markers_seen(plan))
