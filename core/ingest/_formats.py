"""Readers per file format, each turning a file into a *plan*: the SELECT that streams it into
DuckDB, the headers as written, and notes for the report. Nothing is written here.

CSV/TSV/TXT go through DuckDB's ``read_csv`` after encoding and dialect detection; Excel sheets are
streamed row by row (openpyxl read-only) into a UTF-8 CSV and then read the same way; Parquet and
JSON/NDJSON are read by DuckDB directly. No format is read whole into pandas.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from core.errors import IngestError
from core.ingest._dialect import COMMA_SPACE, CsvDialect, sniff_dialect
from core.ingest._encodings import (
    EncodingGuess,
    codec_name,
    guess_encoding,
    preview_text,
    transcode_to_utf8,
)
from core.warehouse import clean_column_names, quote_ident

MISSING_MARKERS = ["", " ", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A", "-",
                   "?"]
# markers that also mean "missing" in a text column (``-`` and ``None`` can be real categories
# there, so they are only read as missing in columns of numbers or dates)
TEXT_MARKERS = ["", " ", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "#N/A", "?"]
UNKNOWN_MARKERS = ["unknown", "Unknown", "UNKNOWN"]
NAN_WORDS = ["", "NaN", "nan"]
# BOOLEAN is left out on purpose: a Yes/No or true/false column keeps the analyst's own labels.
TYPE_CANDIDATES = ["BIGINT", "DOUBLE", "DATE", "TIMESTAMP", "VARCHAR"]
HEAD_BYTES = 1 << 20
CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
JSON_SUFFIXES = {".json", ".ndjson", ".jsonl"}
SUPPORTED = sorted(CSV_SUFFIXES | PARQUET_SUFFIXES | EXCEL_SUFFIXES | JSON_SUFFIXES)


class EncodingUncertainError(IngestError):
    """Several encodings read the file differently; the analyst must choose one.

    Attributes:
        guess: The detector's :class:`~core.ingest.EncodingGuess` (candidates best first).
        previews: Candidate encoding -> the file's first non-ASCII lines decoded with it.
    """

    default_title = "Which encoding is this file in?"

    def __init__(self, guess: EncodingGuess, previews: dict[str, str]) -> None:
        shown = "; ".join(f"{enc}: {text.splitlines()[0] if text else ''!r}"
                          for enc, text in previews.items())
        super().__init__(
            f"The text encoding is not certain: {', '.join(guess.candidates)} all read this file, "
            f"differently ({shown}). Choose the one whose text reads correctly "
            f"(--encoding {guess.candidates[0]})."
        )
        self.guess = guess
        self.previews = previews


@dataclass
class Plan:
    """How to stream one file into DuckDB.

    Attributes:
        select: ``select(full_sample, rejects)`` -> ``(sql, params)``; ``rejects`` names the
            temporary rejects tables (text formats only).
        raw: Headers as written in the file.
        warnings: Notes gathered while reading.
        meta: ``encoding``, ``delimiter``, ``header``, ``sheet``, ``skipped`` (footer lines),
            ``markers`` (missing-value markers), ``decimal_comma`` and ``head_rows`` (the first
            data rows as written) when known.
        text: Whether rows may be rejected and text columns re-typed (CSV and Excel).
    """

    select: Callable[[bool, tuple[str, str] | None], tuple[str, list]]
    raw: list[str]
    warnings: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    text: bool = False


def read_head(path: Path) -> bytes:
    """The first MiB of a file (for encoding and dialect detection)."""
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def choose_encoding(sample: bytes, wanted: str | None) -> tuple[str, str]:
    """The encoding to read with and a note for the report.

    Raises:
        EncodingUncertainError: No encoding was given and the detector is unsure.
    """
    if wanted:
        return codec_name(wanted), f"Encoding {codec_name(wanted)} (chosen by you)."
    guess = guess_encoding(sample)
    if not guess.certain:
        raise EncodingUncertainError(
            guess, {enc: preview_text(sample, enc) for enc in guess.candidates[:4]})
    return guess.encoding, f"Encoding: {guess.note}"


def _cut_footer(path: Path, offset: int, owned: bool, workdir: Path) -> Path:
    if owned:
        with open(path, "r+b") as fh:
            fh.truncate(offset)
        return path
    target = workdir / f"{uuid.uuid4().hex}.csv"
    with open(path, "rb") as src, open(target, "wb") as dst:
        left = offset
        while left > 0:
            chunk = src.read(min(left, 1 << 20))
            if not chunk:
                break
            dst.write(chunk)
            left -= len(chunk)
    return target


def _csv_select(path: Path, d: CsvDialect, names: list[str]):
    def select(full_sample: bool, rejects: tuple[str, str] | None) -> tuple[str, list]:
        # Only NaN words as NULL strings (DuckDB would read them as the number NaN): a longer
        # list costs time on every field; the other markers are handled after the load.
        args = {"delim": d.delimiter, "quote": d.quote, "escape": d.escape, "header": d.header,
                "skip": d.skip_rows, "names": names, "sample_size": -1 if full_sample else 20480,
                "nullstr": NAN_WORDS, "auto_type_candidates": TYPE_CANDIDATES,
                "dateformat": "%Y-%m-%d"}
        if d.decimal_comma:
            args.update(decimal_separator=",", thousands=".")
        if rejects:
            args.update(ignore_errors=True, store_rejects=True, rejects_table=rejects[0],
                        rejects_scan=rejects[1])
        opts = ", ".join(f"{k} := ?" for k in args)
        return f"SELECT * FROM read_csv(?, {opts})", [str(path), *args.values()]

    return select


def plan_text(con: duckdb.DuckDBPyConnection, path: Path, encoding: str, options,
              workdir: Path) -> Plan:
    """Plan a delimited text file already known to be in ``encoding``.

    Args:
        con: Any connection (for ``sniff_csv``).
        path: The file.
        encoding: Python codec name.
        options: :class:`core.ingest.IngestOptions` (delimiter, header, unknown_as_missing).
        workdir: Folder for a UTF-8 copy or a copy without footer lines.

    Returns:
        The :class:`Plan`.
    """
    owned = encoding not in {"utf-8", "utf-8-sig", "ascii"}
    readable = transcode_to_utf8(path, encoding, workdir) if owned else path
    dialect = sniff_dialect(con, readable, options.delimiter, options.header, workdir)
    warnings = []
    meta = {"encoding": encoding.replace("_", "-"), "delimiter": dialect.delimiter,
            "header": dialect.header}
    if dialect.delimiter == COMMA_SPACE:
        warnings.append("Values are separated by a comma and a space (', ', as UCI's files are): "
                        "the space after each comma was not kept as part of the values, so "
                        "' >50K' reads '>50K'.")
    if dialect.footer_offset is not None:
        readable = _cut_footer(readable, dialect.footer_offset, owned, workdir)
        meta["skipped"] = list(dialect.footer_lines)
        shown = ", ".join(repr(x[:60]) for x in dialect.footer_lines[:3])
        warnings.append(f"{len(dialect.footer_lines)} footer/notes line(s) at the end are not "
                        f"data and were not loaded: {shown}.")
    columns = list(dialect.columns)
    if options.column_names is not None:
        columns = _given_names(options.column_names, len(columns))
        warnings.append(f"Columns named as given: {', '.join(columns)}.")
    elif not dialect.header:
        warnings.append(f"No header row was found; columns were named column_1 … "
                        f"column_{len(dialect.columns)}. Name them in the preview (or with "
                        f"--names on the command line).")
    if dialect.decimal_comma:
        warnings.append("Numbers are written with a decimal comma and '.' thousands "
                        "(1.234,56); read as numbers accordingly.")
    names, renames = clean_column_names(columns)
    chosen = list(options.missing_markers) if options.missing_markers is not None else None
    meta["markers"] = (chosen if chosen is not None else MISSING_MARKERS) + (
        UNKNOWN_MARKERS if options.unknown_as_missing else [])
    meta["text_markers"] = (chosen if chosen is not None else TEXT_MARKERS) + (
        UNKNOWN_MARKERS if options.unknown_as_missing else [])
    meta["decimal_comma"] = dialect.decimal_comma
    meta["head_rows"] = dialect.head_rows
    return Plan(_csv_select(readable, dialect, names), columns, warnings + renames, meta,
                text=True)


def _given_names(given: tuple[str, ...], ncols: int) -> list[str]:
    """The analyst's column names, checked against the file's number of columns.

    Raises:
        IngestError: Too few or too many names, or an empty or repeated one.
    """
    names = [str(n).strip() for n in given]
    if len(names) != ncols:
        raise IngestError(f"The file has {ncols} columns but {len(names)} names were given; "
                          f"give one name per column, in file order.")
    empty = [str(i + 1) for i, n in enumerate(names) if not n]
    twice = sorted({n for n in names if n and [m.lower() for m in names].count(n.lower()) > 1})
    if empty or twice:
        raise IngestError("Column names must be non-empty and different: "
                          + "; ".join(([f"column(s) {', '.join(empty)} have none"] if empty
                                       else []) + ([f"repeated: {', '.join(twice)}"] if twice
                                                   else [])) + ".")
    return names


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def excel_sheets(path: str | Path) -> list[str]:
    """Names of the sheets of an Excel workbook, in workbook order.

    Raises:
        IngestError: The file is not a readable .xlsx workbook.
    """
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True)
    except Exception as err:  # openpyxl raises many unrelated types for a bad file
        raise IngestError(
            f"The file is not a readable Excel workbook ({err}). Save it as .xlsx or CSV."
        ) from err
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def excel_to_csv(path: Path, sheet: str, workdir: Path) -> Path:
    """Stream one sheet into a UTF-8 CSV row by row (bounded memory); empty rows are skipped.

    Returns:
        Path of the CSV.
    """
    import openpyxl

    target = workdir / f"{uuid.uuid4().hex}.csv"
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        with open(target, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            for row in wb[sheet].iter_rows(values_only=True):
                if any(v is not None and str(v).strip() for v in row):
                    writer.writerow([_cell(v) for v in row])
    finally:
        wb.close()
    return target


def plan_excel(con, path: Path, options, workdir: Path) -> Plan:
    """Plan one sheet of an Excel workbook (the first unless ``options.sheet``).

    Raises:
        IngestError: Unreadable workbook or unknown sheet.
    """
    from dataclasses import replace

    sheets = excel_sheets(path)
    sheet = options.sheet or sheets[0]
    if sheet not in sheets:
        raise IngestError(f"The workbook has no sheet '{sheet}'. Its sheets: {', '.join(sheets)}.")
    staged = excel_to_csv(path, sheet, workdir)
    if staged.stat().st_size == 0:
        raise IngestError(f"Sheet '{sheet}' is empty: it has no header and no data rows. "
                          f"Nothing was loaded; choose another sheet.")
    header = True if options.header is None else options.header
    plan = plan_text(con, staged, "utf-8", replace(options, delimiter=",", header=header), workdir)
    plan.meta.update(encoding=None, delimiter=None, sheet=sheet)
    if len(sheets) > 1:
        plan.warnings.insert(0, f"Read sheet '{sheet}' of {len(sheets)} ({', '.join(sheets)}).")
    return plan


_NESTED = ("STRUCT", "MAP", "UNION")


def _plan_typed(con, path: Path, reader: str, what: str, fix: str) -> Plan:
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {reader}", [str(path)]).fetchall()
    except duckdb.Error as err:
        raise IngestError(f"The file is not {what} ({str(err).splitlines()[0]}). {fix}") from err
    raw = [r[0] for r in described]
    names, renames = clean_column_names(raw)
    parts, notes = [], []
    for (orig, typ, *_), name in zip(described, names):
        expr = quote_ident(orig)
        if typ.startswith(_NESTED) or typ.endswith("]") or typ == "JSON":
            expr, typ = f"CAST(to_json({expr}) AS VARCHAR)", "VARCHAR"
            notes.append(f"'{orig}' holds nested or mixed-type values; kept as JSON text.")
        parts.append(f"{expr} AS {quote_ident(name)}")
    sql = f"SELECT {', '.join(parts)} FROM {reader}"
    return Plan(lambda full, rejects: (sql, [str(path)]), raw, renames + notes)


def plan_parquet(con, path: Path) -> Plan:
    """Plan a Parquet file (nested columns become JSON text)."""
    return _plan_typed(con, path, "read_parquet(?)", "a readable Parquet file",
                       "Export it again as Parquet, or as CSV.")


def plan_json(con, path: Path) -> Plan:
    """Plan a JSON array of objects or NDJSON file (types over the whole file; nested values
    become JSON text)."""
    return _plan_typed(con, path, "read_json_auto(?, sample_size := -1)", "valid JSON or NDJSON",
                       "It must be an array of objects or one object per line.")


def detect_encoding_at(path: Path, offset: int) -> str:
    """Encoding of a file judged from the bytes around ``offset`` (where UTF-8 broke).

    Raises:
        EncodingUncertainError: The bytes there read plausibly in several encodings.
    """
    with open(path, "rb") as fh:
        fh.seek(max(0, offset - 4096))
        chunk = fh.read(HEAD_BYTES)
    start = chunk.find(b"\n") + 1
    enc, _ = choose_encoding(chunk[start:] or chunk, None)
    return enc


def copy_upload(data, target: Path) -> None:
    """Write an upload's bytes or binary buffer to ``target`` in 1 MiB chunks."""
    with open(target, "wb") as out:
        if isinstance(data, bytes | bytearray):
            out.write(data)
        else:
            if hasattr(data, "seek"):
                data.seek(0)
            shutil.copyfileobj(data, out, 1 << 20)


def suffix_of(path: Path, source_name: str) -> str:
    """The reader's extension for a file: its own (from the analyst's name for it first) when
    LiftLab knows it, else the one its content shows (UCI's ``adult.data``, ``adult.test`` or
    a file without extension are read as text; see :func:`sniff_suffix`).

    Raises:
        IngestError: An unknown extension and content that is no format LiftLab reads.
    """
    suffix = Path(source_name).suffix.lower() or path.suffix.lower()
    if suffix in SUPPORTED:
        return suffix
    sniffed = sniff_suffix(path) if path.is_file() else None
    if sniffed is None:
        raise IngestError(
            f"'{source_name}' is not a file type LiftLab reads ({suffix or 'no extension'}), "
            f"and its content is not delimited text, Parquet, Excel or JSON. Supported: "
            f"{', '.join(SUPPORTED)}. Export the data as CSV or Parquet."
        )
    return sniffed


_BINARY_BYTES = set(range(0, 9)) | {11, 12} | set(range(14, 32)) | {127}


def sniff_suffix(path: Path) -> str | None:
    """The extension a file's first bytes show: ``.parquet`` (``PAR1``), ``.xlsx`` (a zip),
    ``.json`` / ``.jsonl`` (a ``[`` or ``{`` first), ``.csv`` for text; None for other
    binary content."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if head.startswith(b"PAR1"):
        return ".parquet"
    if head.startswith(b"PK\x03\x04"):
        return ".xlsx"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text or sum(b in _BINARY_BYTES for b in head[:4096]) > 0.01 * min(len(head), 4096):
        return None
    if text[:1] == b"[":
        return ".json"
    if text[:1] == b"{":
        return ".jsonl"
    return ".csv"


def content_note(path: Path, source_name: str) -> str | None:
    """A note when a file was read by its content, not its extension (None otherwise)."""
    suffix = Path(source_name).suffix.lower() or path.suffix.lower()
    if suffix in SUPPORTED:
        return None
    kind = {".parquet": "Parquet", ".xlsx": "an Excel workbook", ".json": "JSON",
            ".jsonl": "JSON lines", ".csv": "delimited text"}[suffix_of(path, source_name)]
    return (f"'{source_name}' has {f'the extension {suffix}' if suffix else 'no extension'}, "
            f"which LiftLab does not know; its content is {kind}, so it was read as such.")


def file_kind(filename: str, path: Path | None = None) -> str:
    """``"text"``, ``"excel"``, ``"parquet"`` or ``"json"`` from a file name's extension, or
    from the file's content (``path``) when the extension is unknown.

    Raises:
        IngestError: Unsupported extension and content.
    """
    return kind_of_suffix(suffix_of(Path(path or filename), filename))


def kind_of_suffix(suffix: str) -> str:
    """``text``, ``excel``, ``parquet`` or ``json`` for a supported extension."""
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    return "json" if suffix in JSON_SUFFIXES else "text"


def plan_file(con, path: Path, suffix: str, options, tmp: Path) -> Plan:
    """Plan any supported file by its extension.

    Args:
        con: Any DuckDB connection (for sniffing and DESCRIBE).
        path: The file.
        suffix: Its extension (see :func:`suffix_of`).
        options: :class:`core.ingest.IngestOptions`.
        tmp: Folder for temporary copies.

    Returns:
        The :class:`Plan`.

    Raises:
        IngestError: Empty or unreadable file.
        EncodingUncertainError: The encoding must be chosen.
    """
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
