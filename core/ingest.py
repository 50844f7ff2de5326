"""Load analysts' files into the warehouse as immutable raw tables, or say exactly why not.

CSV/TSV/TXT are read by DuckDB's own ``read_csv`` (streamed, never whole into pandas) after the
encoding is detected (charset-normalizer, see :mod:`core.encodings`) and, when it is not UTF-8,
the file is transcoded to UTF-8 in chunks. Types come from DuckDB's sample and are widened over the
whole file when any later value does not fit (the load is then repeated with whole-file
inference), text columns that hold only numbers or unambiguous dates are converted
(:mod:`core.ingest_types`), missing markers become NULL and are counted, and footer lines or
malformed rows are counted in the report, never dropped silently. Headers are made unique and
SQL-safe with the originals kept in the catalog. Every write happens in one transaction: a failed
ingest leaves no table and no catalog row.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from core.encodings import EncodingGuess, guess_encoding, preview_text
from core.errors import IngestError
from core.ingest_formats import (
    MISSING_MARKERS, UNKNOWN_MARKERS, EncodingUncertainError, Plan, choose_encoding, copy_upload,
    detect_encoding_at, excel_sheets, plan_excel, plan_json, plan_parquet, plan_text, read_head,
)
from core.ingest_types import refine_text_columns
from core.names import clean_column_names, default_table_name
from core.warehouse import META_SCHEMA, quote_ident, table_exists, transaction

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MISSING_MARKERS", "UNKNOWN_MARKERS", "SUPPORTED", "ColumnReport", "EncodingUncertainError",
    "FilePreview", "IngestOptions", "IngestReport", "clean_column_names", "default_table_name",
    "detect_encoding", "excel_sheets", "file_kind", "ingest_bytes", "ingest_file", "inspect_file",
    "load_report", "planned_table_name",
]

log = logging.getLogger(__name__)

CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
JSON_SUFFIXES = {".json", ".ndjson", ".jsonl"}
SUPPORTED = sorted(CSV_SUFFIXES | PARQUET_SUFFIXES | EXCEL_SUFFIXES | JSON_SUFFIXES)
IF_EXISTS = ("fail", "replace", "keep_both")
_MAX_REJECT_SHARE = 0.1


@dataclass(frozen=True)
class IngestOptions:
    """How to read a file; every field may stay None to let LiftLab detect it.

    Attributes:
        table: Name of the new table (derived from the file name when None).
        encoding: Text encoding such as ``utf-8``, ``cp1252``, ``latin-1`` or ``gb18030``.
        delimiter: Field separator such as ``,``, ``;``, ``\\t`` or ``|``.
        sheet: Excel sheet name (first sheet when None).
        if_exists: ``"fail"``, ``"replace"`` or ``"keep_both"`` (adds a numeric suffix).
        header: Whether the first line is a header (detected when None).
        unknown_as_missing: Also read ``unknown`` as missing (off: it is often a real category).
    """

    table: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    if_exists: str = "keep_both"
    header: bool | None = None
    unknown_as_missing: bool = False


@dataclass(frozen=True)
class ColumnReport:
    """One loaded column: clean name, DuckDB type, header as written, NULL count."""

    name: str
    type: str
    original_name: str
    missing: int = 0


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did.

    Attributes:
        table: The table written.
        rows: Rows loaded.
        columns: One :class:`ColumnReport` per column, in file order.
        warnings: Plain-language notes: renames, missing markers, encoding, dropped lines.
        encoding: Encoding used to decode the file (None for binary formats).
        delimiter: Separator used (text formats only).
        source: File name the table came from.
        dropped_rows: Malformed data lines not loaded (each listed in ``warnings``).
        skipped_lines: Footer/notes lines that are not data, as written.
        sheet: Excel sheet read, if any.
    """

    table: str
    rows: int
    columns: list[ColumnReport]
    warnings: list[str] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    source: str = ""
    dropped_rows: int = 0
    skipped_lines: list[str] = field(default_factory=list)
    sheet: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready form used by the command line."""
        return asdict(self)


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
    """

    kind: str
    encoding: EncodingGuess | None
    previews: dict[str, str]
    delimiter: str | None
    header: bool | None
    sheets: tuple[str, ...]
    rows: pd.DataFrame
    warnings: tuple[str, ...] = ()


class _WrongEncoding(Exception):
    """UTF-8 broke after the first MiB; carries the byte offset where it broke."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


def detect_encoding(sample: bytes) -> tuple[str, list[str]]:
    """Guess the text encoding of a file from its first bytes (see :func:`guess_encoding`).

    Args:
        sample: The first bytes of the file (up to about 1 MiB).

    Returns:
        ``(encoding, notes)``: a Python codec name and notes for the ingest report; an
        uncertain guess says so in the notes.

    Raises:
        IngestError: The bytes do not look like text in any known encoding.
    """
    guess = guess_encoding(sample)
    return guess.encoding, [] if guess.certain else [guess.note]


# ---------------------------------------------------------------- names


def _resolve_table_name(con: duckdb.DuckDBPyConnection, wanted: str, if_exists: str) -> str:
    if if_exists not in IF_EXISTS:
        raise IngestError(f"if_exists must be one of {', '.join(IF_EXISTS)}; got {if_exists!r}.")
    name = clean_column_names([wanted])[0][0]
    if name.lower().startswith("liftlab"):
        name = f"t_{name}"
    if not table_exists(con, name) or if_exists == "replace":
        return name
    if if_exists == "fail":
        raise IngestError(
            f"A table named '{name}' already exists. Choose another name, or replace it "
            f"(--replace on the command line)."
        )
    k = 2
    while table_exists(con, f"{name}_{k}"):
        k += 1
    return f"{name}_{k}"


def planned_table_name(con: duckdb.DuckDBPyConnection, filename: str,
                       table: str | None = None) -> tuple[str, bool]:
    """The table name a file would get, and whether a table of that name already exists.

    Lets the UI ask "replace or keep both" before loading.

    Args:
        con: Open warehouse connection.
        filename: The file's name.
        table: The name the analyst typed, if any.

    Returns:
        ``(name, exists)``.
    """
    name = _resolve_table_name(con, table or default_table_name(filename), "replace")
    return name, table_exists(con, name)


def load_report(con: duckdb.DuckDBPyConnection, table: str) -> dict | None:
    """The ingest report stored for a table (as :meth:`IngestReport.to_dict`), or None.

    Args:
        con: Open warehouse connection.
        table: Table name.

    Returns:
        The report, or None for tables not loaded from a file (e.g. prepared tables).
    """
    row = con.execute(f"SELECT report_json FROM {META_SCHEMA}.catalog WHERE table_name = ?",
                      [table]).fetchone()
    return json.loads(row[0]) if row and row[0] else None


# ---------------------------------------------------------------- planning


def _suffix(path: Path, source_name: str) -> str:
    suffix = Path(source_name).suffix.lower() or path.suffix.lower()
    if suffix not in SUPPORTED:
        raise IngestError(
            f"'{source_name}' is not a supported file type ({suffix or 'no extension'}). "
            f"Supported: {', '.join(SUPPORTED)}. Export the data as CSV or Parquet."
        )
    return suffix


def file_kind(filename: str) -> str:
    """``"text"``, ``"excel"``, ``"parquet"`` or ``"json"`` from a file name's extension.

    Raises:
        IngestError: Unsupported extension.
    """
    return _kind(_suffix(Path(filename), filename))


def _kind(suffix: str) -> str:
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    return "json" if suffix in JSON_SUFFIXES else "text"


def _plan(con, path: Path, suffix: str, options: IngestOptions, tmp: Path) -> Plan:
    if suffix in PARQUET_SUFFIXES:
        return plan_parquet(con, path)
    if suffix in JSON_SUFFIXES:
        return plan_json(con, path)
    if suffix in EXCEL_SUFFIXES:
        return plan_excel(con, path, options, tmp)
    sample = read_head(path)
    if not sample.strip():
        raise IngestError("The file is empty: it has no header and no data rows. Nothing was "
                          "loaded; export the file again with its data.")
    encoding, note = choose_encoding(sample, options.encoding)
    plan = plan_text(con, path, encoding, options, tmp)
    if encoding not in {"utf-8", "ascii"}:
        plan.warnings.insert(0, note)
    return plan


# ---------------------------------------------------------------- writing


def _rejected_lines(con, rejects_table: str) -> list[tuple[int, list[str], str, int]]:
    return con.execute(
        f"SELECT line, list(DISTINCT error_type), any_value(csv_line), min(byte_position) "
        f"FROM {quote_ident(rejects_table)} GROUP BY line ORDER BY line"
    ).fetchall()


def _load(con, q: str, plan: Plan) -> list[tuple[int, list[str], str, int]]:
    """CREATE the table from the plan; returns the rejected lines (text formats)."""
    for full_sample in (False, True):
        tag = uuid.uuid4().hex[:12]
        rejects = (f"liftlab_rej_{tag}", f"liftlab_scan_{tag}") if plan.text else None
        sql, params = plan.select(full_sample, rejects)
        try:
            con.execute(f"CREATE OR REPLACE TABLE {q} AS {sql}", params)
        except duckdb.Error as err:
            raise IngestError(
                f"The file could not be parsed: {str(err).splitlines()[0]}. Check the separator "
                f"and encoding, or fix the line named above."
            ) from err
        if rejects is None:
            return []
        bad = _rejected_lines(con, rejects[0])
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(rejects[0])}")
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(rejects[1])}")
        broken = [b for b in bad if "INVALID ENCODING" in b[1] or "INVALID UNICODE" in b[1]]
        if broken:
            raise _WrongEncoding(int(min(b[3] for b in broken)))
        if full_sample or not any(set(b[1]) == {"CAST"} for b in bad):
            return bad
        log.info("a value did not fit the sampled types; reading %s again over the whole file", q)
    return []


def _dropped_notes(bad, rows: int) -> list[str]:
    if not bad:
        return []
    if len(bad) > max(3, _MAX_REJECT_SHARE * (rows + len(bad))):
        raise IngestError(
            f"{len(bad)} lines do not fit the table's {len(bad[0])}-column layout (e.g. line "
            f"{bad[0][0]}: {bad[0][2][:80]!r}). The separator or quoting is probably wrong: choose "
            f"the separator (--delimiter) or fix the file."
        )
    shown = "; ".join(f"line {b[0]}: {b[2].strip()[:60]!r}" for b in bad[:3])
    return [f"{len(bad)} malformed line(s) were not loaded (wrong number of fields or "
            f"unreadable values): {shown}{' …' if len(bad) > 3 else ''}."]


def _null_counts(con, q: str, cols: list[str]) -> list[int]:
    exprs = ", ".join(f"count(*) - count({quote_ident(c)})" for c in cols)
    return [int(v) for v in con.execute(f"SELECT {exprs} FROM {q}").fetchone()]


def _columns(con, q: str, raw: list[str]) -> list[ColumnReport]:
    described = con.execute(f"DESCRIBE {q}").fetchall()
    nulls = _null_counts(con, q, [r[0] for r in described])
    return [ColumnReport(r[0], r[1], str(raw[i]) if i < len(raw) else r[0], nulls[i])
            for i, r in enumerate(described)]


def _missing_notes(columns: list[ColumnReport], markers: bool) -> list[str]:
    shown = ", ".join(repr(m) for m in MISSING_MARKERS[:6] + ["-"])
    return [f"'{c.original_name}': {c.missing} blank or missing-marker cells ({shown}, …) read "
            f"as missing (NULL)." for c in columns
            if markers and c.missing and c.type in ("BIGINT", "DOUBLE")]


def _write(con, table: str, plan: Plan, source_name: str) -> IngestReport:
    q = quote_ident(table)
    bad = _load(con, q, plan)
    rows = int(con.execute(f"SELECT count(*) FROM {q}").fetchone()[0])
    if rows == 0:
        raise IngestError(f"'{source_name}' has a header but no data rows. Nothing was loaded; "
                          f"export the file again with its data.")
    warnings = plan.warnings + _dropped_notes(bad, rows)
    if plan.text:
        warnings += refine_text_columns(con, table)
    columns = _columns(con, q, plan.raw)
    warnings += _missing_notes(columns, plan.text)
    report = IngestReport(table, rows, columns, warnings, plan.meta.get("encoding"),
                          plan.meta.get("delimiter"), source_name, len(bad),
                          list(plan.meta.get("skipped", [])), plan.meta.get("sheet"))
    con.execute(f"DELETE FROM {META_SCHEMA}.catalog WHERE table_name = ?", [table])
    con.execute(
        f"INSERT INTO {META_SCHEMA}.catalog VALUES (?, ?, ?, ?, ?, ?)",
        [table, source_name, datetime.now(), rows,
         json.dumps([asdict(c) for c in columns]), json.dumps(report.to_dict())],
    )
    return report


# ---------------------------------------------------------------- entry points


def ingest_file(
    con: duckdb.DuckDBPyConnection, path: str | Path, options: IngestOptions | None = None,
    source_name: str | None = None, workdir: str | Path | None = None,
) -> IngestReport:
    """Load one file into a new raw table of the warehouse.

    Args:
        con: Open warehouse connection (see :func:`core.warehouse.connect`).
        path: The file on disk (never modified).
        options: Reading options; everything is detected when omitted.
        source_name: The name the analyst knows the file by (an upload's name); defaults to
            the file name.
        workdir: Folder for temporary copies (system temp folder when None).

    Returns:
        The :class:`IngestReport`.

    Raises:
        EncodingUncertainError: The encoding is not certain; choose ``options.encoding``.
        IngestError: Unsupported format, unreadable or empty file, or a table name clash with
            ``if_exists="fail"``. Nothing is written in that case.
    """
    options = options or IngestOptions()
    path = Path(path)
    source_name = source_name or path.name
    if not path.is_file():
        raise IngestError(f"No file at {path}. Check the path.")
    suffix = _suffix(path, source_name)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        try:
            return _ingest(con, path, suffix, options, source_name, Path(tmp))
        except _WrongEncoding as wrong:
            if options.encoding:
                raise IngestError(
                    f"The file is not valid {options.encoding} after byte {wrong.offset}. Choose "
                    f"the encoding it was saved in (--encoding)."
                ) from wrong
            encoding = detect_encoding_at(path, wrong.offset)
            note = (f"The file is not UTF-8 throughout (invalid bytes at byte {wrong.offset}); it "
                    f"was read as {encoding}. If some text looks wrong, choose the encoding.")
            return _ingest(con, path, suffix, replace(options, encoding=encoding), source_name,
                           Path(tmp), note)


def _ingest(con, path, suffix, options, source_name, tmp, note: str | None = None
            ) -> IngestReport:
    plan = _plan(con, path, suffix, options, tmp)
    if note:
        plan.warnings[:1] = [note]  # replaces the "chosen by you" line of the retry
    table = _resolve_table_name(con, options.table or default_table_name(source_name),
                                options.if_exists)
    with transaction(con):
        report = _write(con, table, plan, source_name)
    log.info("ingested %s into %s (%d rows)", source_name, table, report.rows)
    return report


def ingest_bytes(
    con: duckdb.DuckDBPyConnection, data: bytes | io.BufferedIOBase, filename: str,
    options: IngestOptions | None = None, workdir: str | Path | None = None,
) -> IngestReport:
    """Ingest an uploaded file's bytes (the Streamlit uploader's buffer) via a temporary file.

    Args:
        con: Open warehouse connection.
        data: The file content, as bytes or a readable binary buffer (copied in 1 MiB chunks).
        filename: The uploaded file's name (its extension picks the reader).
        options: Reading options.
        workdir: Folder for the temporary copy.

    Returns:
        The :class:`IngestReport`.

    Raises:
        IngestError: See :func:`ingest_file`.
    """
    suffix = Path(filename).suffix.lower()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        target = Path(tmp) / f"upload{suffix}"
        copy_upload(data, target)
        return ingest_file(con, target, options, source_name=filename, workdir=workdir)


# ---------------------------------------------------------------- preview


def _head_copy(path: Path, encoding: str, tmp: Path, lines: int = 200) -> Path:
    """The first ``lines`` lines of a text file, as UTF-8, for a quick preview."""
    text = read_head(path).decode(encoding, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    target = tmp / "head.csv"
    target.write_text("".join(text.splitlines(keepends=True)[:lines]), encoding="utf-8")
    return target


def _preview_rows(con, plan: Plan, limit: int = 20) -> pd.DataFrame:
    sql, params = plan.select(False, None)
    frame = con.execute(f"SELECT * FROM ({sql}) LIMIT {int(limit)}", params).df()
    return frame


def inspect_file(path: str | Path, source_name: str | None = None,
                 options: IngestOptions | None = None) -> FilePreview:
    """Detect encoding, separator, header and sheets, and read the first rows, without loading.

    Only the file's head (and an Excel sheet's first rows) is read, so this is quick for large
    files. An uncertain encoding is reported in ``encoding.certain`` with one preview per
    candidate instead of raising.

    Args:
        path: The file.
        source_name: The name the analyst knows the file by.
        options: Choices already made (encoding, delimiter, sheet, header).

    Returns:
        The :class:`FilePreview`.

    Raises:
        IngestError: Unsupported, empty or unreadable file.
    """
    options = options or IngestOptions()
    path = Path(path)
    suffix = _suffix(path, source_name or path.name)
    con = duckdb.connect()  # in memory: a preview never touches the warehouse
    with con, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if suffix in EXCEL_SUFFIXES or suffix in PARQUET_SUFFIXES or suffix in JSON_SUFFIXES:
            plan = _plan(con, path, suffix, options, tmp)
            sheets = tuple(excel_sheets(path)) if suffix in EXCEL_SUFFIXES else ()
            return FilePreview(_kind(suffix), None, {}, None, plan.meta.get("header"), sheets,
                               _preview_rows(con, plan), tuple(plan.warnings))
        sample = read_head(path)
        if not sample.strip():
            raise IngestError("The file is empty: it has no header and no data rows.")
        guess = guess_encoding(sample) if not options.encoding else None
        encoding = options.encoding or guess.encoding
        previews = {e: preview_text(sample, e) for e in (guess.candidates if guess else ())}
        plan = plan_text(con, _head_copy(path, encoding, tmp), "utf-8", options, tmp)
        return FilePreview("text", guess, previews, plan.meta.get("delimiter"),
                           plan.meta.get("header"), (),
                           _preview_rows(con, plan), tuple(plan.warnings))
