"""Load analysts' files into the warehouse as immutable raw tables, or say exactly why not.

CSV/TSV/TXT are read by DuckDB's own ``read_csv`` (streamed, never whole into pandas) after the
encoding is detected (charset-normalizer) and, when it is not UTF-8, the file is transcoded to UTF-8
in chunks. Types are inferred over the whole file (``sample_size=-1``), common missing markers become
NULL and are counted, headers are made unique and SQL-safe with the originals kept in the catalog.
Every write happens in one transaction: a failed ingest leaves no table and no catalog row.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import re
import shutil
import tempfile
import unicodedata
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from core.errors import IngestError
from core.warehouse import META_SCHEMA, quote_ident, table_exists

log = logging.getLogger(__name__)

CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
JSON_SUFFIXES = {".json", ".ndjson", ".jsonl"}
SUPPORTED = sorted(CSV_SUFFIXES | PARQUET_SUFFIXES | EXCEL_SUFFIXES | JSON_SUFFIXES)
MISSING_MARKERS = ["", " ", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A"]
# BOOLEAN is left out on purpose: a Yes/No column keeps the analyst's own labels.
TYPE_CANDIDATES = ["BIGINT", "DOUBLE", "DATE", "TIMESTAMP", "VARCHAR"]
_SNIFF_BYTES = 1 << 20
_SINGLE_BYTE_WESTERN = {
    "cp775", "cp850", "cp1250", "cp1252", "cp1257", "latin_1", "iso8859_15", "iso8859_2",
    "mac_roman", "cp437", "iso8859_9", "cp1254", "mac_latin2",
}


@dataclass(frozen=True)
class IngestOptions:
    """How to read a file; every field may stay None to let LiftLab detect it.

    Attributes:
        table: Name of the new table (derived from the file name when None).
        encoding: Text encoding such as ``utf-8``, ``cp1252`` or ``gb18030``.
        delimiter: Field separator such as ``,``, ``;``, ``\\t`` or ``|``.
        sheet: Excel sheet name (first sheet when None).
        if_exists: ``"fail"``, ``"replace"`` or ``"keep_both"`` (adds a numeric suffix).
    """

    table: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    if_exists: str = "keep_both"


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
        rows: Rows loaded (every data row of the file).
        columns: One :class:`ColumnReport` per column, in file order.
        warnings: Plain-language notes: renames, missing markers, encoding guesses.
        encoding: Encoding used to decode the file (None for binary formats).
        delimiter: Separator used (CSV only).
        source: File name the table came from.
    """

    table: str
    rows: int
    columns: list[ColumnReport]
    warnings: list[str] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    source: str = ""

    def to_dict(self) -> dict:
        """JSON-ready form used by the command line."""
        return asdict(self)


# ---------------------------------------------------------------- names


def clean_column_names(raw: list[str]) -> tuple[list[str], list[str]]:
    """Make headers trimmed, non-empty, unique (case-insensitively) and safe for SQL and Keras.

    Letters of any script (e.g. Chinese) and digits are kept; every other run of characters
    becomes ``_``.

    Args:
        raw: Headers as written in the file, length n_columns.

    Returns:
        ``(names, warnings)``: the clean names (same length) and one message per rename.
    """
    names: list[str] = []
    seen: set[str] = set()
    warnings: list[str] = []
    for i, original in enumerate(raw, start=1):
        text = unicodedata.normalize("NFC", str(original or "")).strip()
        base = re.sub(r"[^\w]+", "_", text, flags=re.UNICODE).strip("_") or f"column_{i}"
        if base[0].isdigit():
            base = f"c_{base}"
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
    """Derive a table name from a file name (``Bank Data (2).csv`` → ``bank_data_2``)."""
    stem = Path(filename).stem.lower()
    name = re.sub(r"[^\w]+", "_", stem, flags=re.UNICODE).strip("_") or "table"
    return f"t_{name}" if name[0].isdigit() else name


def _resolve_table_name(con: duckdb.DuckDBPyConnection, wanted: str, if_exists: str) -> str:
    cleaned, _ = clean_column_names([wanted])
    name = cleaned[0]
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


# ---------------------------------------------------------------- encodings


def detect_encoding(sample: bytes) -> tuple[str, list[str]]:
    """Guess the text encoding of a file from its first bytes.

    UTF-8 (with or without BOM) and UTF-16 (by BOM) are checked first. Otherwise
    charset-normalizer ranks candidates; a single-byte Western guess is mapped to cp1252 (what
    Excel writes on Windows), which decodes curly quotes, dashes and the euro sign that latin-1
    turns into control characters.

    Args:
        sample: The first bytes of the file (up to about 1 MiB).

    Returns:
        ``(encoding, warnings)``: a Python codec name and notes for the ingest report.

    Raises:
        IngestError: The bytes do not look like text in any known encoding.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", []
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", []
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8", []
    except UnicodeDecodeError:
        pass
    if b"\x00" in sample[:4096]:
        raise IngestError(
            "This file is not text (it contains binary bytes), so it is not a CSV. Supported "
            f"formats: {', '.join(SUPPORTED)}."
        )
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise IngestError(
            "The text encoding of this file could not be recognised. Save it as UTF-8 CSV, or "
            "name the encoding (--encoding cp1252, gb18030, latin-1, ...)."
        )
    guess = codecs.lookup(best.encoding).name.replace("-", "_")
    if guess in {"gb2312", "gbk", "hz"}:
        guess = "gb18030"
    if guess in _SINGLE_BYTE_WESTERN and guess != "cp1252":
        try:
            sample.decode("cp1252")
            return "cp1252", [
                f"Encoding detected as a Windows/Western single-byte code page (detector's first "
                f"guess: {best.encoding}); read as cp1252. If accents look wrong, choose the "
                f"encoding explicitly."
            ]
        except UnicodeDecodeError:
            pass
    return guess, []


def _to_utf8(path: Path, encoding: str, workdir: Path) -> Path:
    """Transcode ``path`` to a UTF-8 temporary file in 1 MiB chunks (bounded memory)."""
    target = workdir / f"{uuid.uuid4().hex}.csv"
    try:
        with open(path, encoding=encoding, errors="strict", newline="") as src, open(
            target, "w", encoding="utf-8", newline=""
        ) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (UnicodeDecodeError, LookupError) as err:
        target.unlink(missing_ok=True)
        raise IngestError(
            f"The file could not be decoded as {encoding}: {err}. Choose the encoding the file "
            f"was saved in (--encoding)."
        ) from err
    return target


# ---------------------------------------------------------------- CSV


def _sniff(con: duckdb.DuckDBPyConnection, path: Path, delimiter: str | None) -> dict:
    args = {"sample_size": 20480}
    if delimiter:
        args["delim"] = delimiter
    opts = ", ".join(f"{k} := ?" for k in args)
    try:
        row = con.execute(f"SELECT * FROM sniff_csv(?, {opts})", [str(path), *args.values()]).df()
    except duckdb.Error as err:
        raise IngestError(
            f"The file could not be read as delimited text: {str(err).splitlines()[0]}. Check "
            f"that it is a CSV, or name the separator (--delimiter ';')."
        ) from err
    return row.iloc[0].to_dict()


def _one_char(value, default: str) -> str:
    return value if isinstance(value, str) and len(value) == 1 else default


def _raw_header(path: Path, delimiter: str, quote: str) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, quotechar=_one_char(quote, '"'))
        return next(reader, [])


def _csv_select(path: Path, sniffed: dict, names: list[str], header: bool) -> tuple[str, list]:
    quote = _one_char(sniffed["Quote"], '"')
    sql = (
        "SELECT * FROM read_csv(?, delim := ?, quote := ?, escape := ?, header := ?, "
        "names := ?, sample_size := -1, nullstr := ?, auto_type_candidates := ?, "
        "skip := ?)"
    )
    escape = _one_char(sniffed["Escape"], quote)
    params = [str(path), sniffed["Delimiter"], quote, escape, header, names,
              MISSING_MARKERS, TYPE_CANDIDATES, int(sniffed.get("SkipRows") or 0)]
    return sql, params


def _prepare_csv(con, path: Path, options: IngestOptions, workdir: Path):
    with open(path, "rb") as fh:
        sample = fh.read(_SNIFF_BYTES)
    if not sample.strip():
        raise IngestError("The file is empty: it has no header and no data rows. Nothing was loaded.")
    warnings: list[str] = []
    if options.encoding:
        encoding = codecs.lookup(options.encoding).name
    else:
        encoding, warnings = detect_encoding(sample)
    readable = path
    if encoding not in {"utf-8", "utf-8-sig", "ascii"}:
        readable = _to_utf8(path, encoding, workdir)
    sniffed = _sniff(con, readable, options.delimiter)
    header = bool(sniffed["HasHeader"])
    ncols = len(sniffed["Columns"])
    if header:
        raw = _raw_header(readable, sniffed["Delimiter"], sniffed["Quote"])
        if len(raw) != ncols:
            raw = [c["name"] for c in sniffed["Columns"]]
    else:
        raw = [f"column_{i}" for i in range(1, ncols + 1)]
        warnings.append(
            f"No header row was found; columns were named column_1 … column_{ncols}."
        )
    names, renames = clean_column_names(raw)
    sql, params = _csv_select(readable, sniffed, names, header)
    meta = {"encoding": encoding.replace("_", "-"), "delimiter": sniffed["Delimiter"]}
    return sql, params, raw, warnings + renames, meta


# ---------------------------------------------------------------- other formats


def _prepare_parquet(con, path: Path):
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error as err:
        raise IngestError(
            f"The file is not a readable Parquet file ({str(err).splitlines()[0]}). Export it "
            f"again as Parquet, or as CSV."
        ) from err
    raw = [r[0] for r in described]
    names, renames = clean_column_names(raw)
    select = ", ".join(f"{quote_ident(o)} AS {quote_ident(n)}" for o, n in zip(raw, names))
    return f"SELECT {select} FROM read_parquet(?)", [str(path)], raw, renames, {}


def _prepare_json(con, path: Path):
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_json_auto(?)", [str(path)]).fetchall()
    except duckdb.Error as err:
        raise IngestError(
            f"The file is not valid JSON or NDJSON ({str(err).splitlines()[0]}). It must be an "
            f"array of objects or one object per line."
        ) from err
    raw = [r[0] for r in described]
    names, renames = clean_column_names(raw)
    select = ", ".join(f"{quote_ident(o)} AS {quote_ident(n)}" for o, n in zip(raw, names))
    return f"SELECT {select} FROM read_json_auto(?)", [str(path)], raw, renames, {}


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


def _prepare_excel(con, path: Path, options: IngestOptions, workdir: Path):
    import pandas as pd

    sheets = excel_sheets(path)
    sheet = options.sheet or sheets[0]
    if sheet not in sheets:
        raise IngestError(f"The workbook has no sheet '{sheet}'. Its sheets: {', '.join(sheets)}.")
    frame = pd.read_excel(path, sheet_name=sheet, engine="openpyxl")
    raw = [str(c) if not str(c).startswith("Unnamed: ") else "" for c in frame.columns]
    names, renames = clean_column_names(raw)
    frame.columns = names
    staged = workdir / f"{uuid.uuid4().hex}.parquet"
    frame.to_parquet(staged, index=False)
    warnings = list(renames)
    if len(sheets) > 1:
        warnings.insert(0, f"Read sheet '{sheet}' of {len(sheets)} ({', '.join(sheets)}).")
    return "SELECT * FROM read_parquet(?)", [str(staged)], raw, warnings, {"sheet": sheet}


# ---------------------------------------------------------------- entry point


def ingest_file(
    con: duckdb.DuckDBPyConnection, path: str | Path, options: IngestOptions | None = None,
    source_name: str | None = None, workdir: str | Path | None = None,
) -> IngestReport:
    """Load one file into a new raw table of the warehouse.

    Args:
        con: Open warehouse connection (see :func:`core.warehouse.connect`).
        path: The file on disk.
        options: Reading options; everything is detected when omitted.
        source_name: The name the analyst knows the file by (an upload's name); defaults to
            the file name.
        workdir: Folder for temporary transcoded copies (system temp folder when None).

    Returns:
        The :class:`IngestReport`.

    Raises:
        IngestError: Unsupported format, unreadable or empty file, or a table name clash with
            ``if_exists="fail"``. Nothing is written in that case.
    """
    options = options or IngestOptions()
    path = Path(path)
    source_name = source_name or path.name
    suffix = Path(source_name).suffix.lower() or path.suffix.lower()
    if not path.is_file():
        raise IngestError(f"No file at {path}. Check the path.")
    if suffix not in SUPPORTED:
        raise IngestError(
            f"'{source_name}' is not a supported file type ({suffix or 'no extension'}). "
            f"Supported: {', '.join(SUPPORTED)}. Export the data as CSV or Parquet."
        )
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        return _ingest(con, path, suffix, options, source_name, Path(tmp))


def _ingest(con, path, suffix, options, source_name, tmp) -> IngestReport:
    if suffix in CSV_SUFFIXES:
        sql, params, raw, warnings, meta = _prepare_csv(con, path, options, tmp)
    elif suffix in PARQUET_SUFFIXES:
        sql, params, raw, warnings, meta = _prepare_parquet(con, path)
    elif suffix in JSON_SUFFIXES:
        sql, params, raw, warnings, meta = _prepare_json(con, path)
    else:
        sql, params, raw, warnings, meta = _prepare_excel(con, path, options, tmp)
    table = _resolve_table_name(con, options.table or default_table_name(source_name),
                                options.if_exists)
    con.execute("BEGIN TRANSACTION")
    try:
        report = _write(con, table, sql, params, raw, warnings, meta, source_name)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("ingested %s into %s (%d rows)", source_name, table, report.rows)
    return report


def _write(con, table, sql, params, raw, warnings, meta, source_name) -> IngestReport:
    q = quote_ident(table)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {q} AS {sql}", params)
    except duckdb.Error as err:
        first = str(err).splitlines()[0]
        raise IngestError(
            f"The file could not be parsed: {first}. Check the separator and encoding, or fix "
            f"the line named above."
        ) from err
    rows = con.execute(f"SELECT count(*) FROM {q}").fetchone()[0]
    if rows == 0:
        raise IngestError(
            f"'{source_name}' has a header but no data rows. Nothing was loaded; export the file "
            f"again with its data."
        )
    described = con.execute(f"DESCRIBE {q}").fetchall()
    nulls = _null_counts(con, q, [r[0] for r in described])
    columns = [
        ColumnReport(r[0], r[1], str(raw[i]) if i < len(raw) else r[0], nulls[i])
        for i, r in enumerate(described)
    ]
    for c in columns:
        if c.missing and c.type in {"BIGINT", "DOUBLE"}:
            warnings.append(
                f"'{c.original_name}': {c.missing} blank or missing-marker cells "
                f"({', '.join(repr(m) for m in MISSING_MARKERS[:4])}, …) read as missing (NULL)."
            )
    report = IngestReport(table, int(rows), columns, warnings, meta.get("encoding"),
                          meta.get("delimiter"), source_name)
    con.execute(f"DELETE FROM {META_SCHEMA}.catalog WHERE table_name = ?", [table])
    con.execute(
        f"INSERT INTO {META_SCHEMA}.catalog VALUES (?, ?, ?, ?, ?, ?)",
        [table, source_name, datetime.now(), int(rows),
         json.dumps([asdict(c) for c in columns]), json.dumps(report.to_dict())],
    )
    return report


def _null_counts(con, q: str, cols: list[str]) -> list[int]:
    exprs = ", ".join(f"count(*) - count({quote_ident(c)})" for c in cols)
    return [int(v) for v in con.execute(f"SELECT {exprs} FROM {q}").fetchone()]


def ingest_bytes(
    con: duckdb.DuckDBPyConnection, data: bytes | io.BufferedIOBase, filename: str,
    options: IngestOptions | None = None, workdir: str | Path | None = None,
) -> IngestReport:
    """Ingest an uploaded file's bytes (the Streamlit uploader's buffer) via a temporary file.

    Args:
        con: Open warehouse connection.
        data: The file content, as bytes or a readable binary buffer.
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
        with open(target, "wb") as out:
            if isinstance(data, bytes | bytearray):
                out.write(data)
            else:
                shutil.copyfileobj(data, out, 1 << 20)
        return ingest_file(con, target, options, source_name=filename, workdir=workdir)
