"""Load analysts' files into the warehouse as immutable raw tables, or say exactly why not.

CSV/TSV/TXT are read by DuckDB's own ``read_csv`` (streamed, never whole into pandas) after the
encoding is detected (charset-normalizer, see :mod:`core.ingest`) and, when it is not UTF-8,
the file is transcoded to UTF-8 in chunks; Excel sheets are streamed row by row into a CSV first.
The first read is strict with types from DuckDB's sample; when a later value does not fit, the
load is rolled back and repeated with whole-file types, and when lines are malformed it is
repeated once more, skipping and counting them. Text columns that hold only numbers (with missing
markers such as ``NA`` or ``-``, which become NULL and are counted) or unambiguous dates are then
converted (:mod:`core.ingest`). Footer lines and malformed rows are listed in the report,
never dropped silently. Headers are made unique and SQL-safe with the originals kept in the
catalog. Every write happens in one transaction: a failed ingest leaves no table and no catalog
row.
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

import duckdb

from core.errors import IngestError
from core.ingest._encodings import guess_encoding
from core.ingest._formats import (
    MISSING_MARKERS,
    Plan,
    content_note,
    copy_upload,
    detect_encoding_at,
    plan_file,
    suffix_of,
)
from core.ingest._options import IF_EXISTS, IngestOptions
from core.ingest._types import refine_text_columns
from core.warehouse import (
    META_SCHEMA,
    capped_memory,
    clean_column_names,
    default_table_name,
    is_memory_error,
    pid_tag,
    quote_ident,
    table_exists,
    transaction,
    with_memory_retry,
)

log = logging.getLogger(__name__)

LOAD_MEMORY_MB = 512  # DuckDB buffer pool during a load (raised on an out-of-memory error)
_MAX_REJECT_SHARE = 0.1


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
    row = con.execute(f"SELECT report_json FROM {META_SCHEMA}.catalog WHERE lower(table_name) = lower(?)",
                      [table]).fetchone()
    return json.loads(row[0]) if row and row[0] else None


# ---------------------------------------------------------------- writing


def _rejected_lines(con, rejects_table: str) -> list[tuple[int, list[str], str, int]]:
    return con.execute(
        f"SELECT line, list(DISTINCT error_type), any_value(csv_line), min(byte_position) "
        f"FROM {quote_ident(rejects_table)} GROUP BY line ORDER BY line"
    ).fetchall()


class _Retry(Exception):
    """The strict read failed; load again (after a rollback) in the given mode."""

    def __init__(self, mode: str) -> None:
        super().__init__(mode)
        self.mode = mode


def _create(con, q: str, plan: Plan, full_sample: bool, rejects) -> None:
    sql, params = plan.select(full_sample, rejects)
    con.execute(f"CREATE OR REPLACE TABLE {q} AS {sql}", params)


def _load(con, q: str, plan: Plan, mode: str) -> list[tuple[int, list[str], str, int]]:
    """CREATE the table from the plan; returns the rejected lines.

    Modes: ``sampled`` reads strictly with types from DuckDB's sample (the common, fastest
    case); ``whole`` strictly with types over the whole file (a later value did not fit);
    ``tolerant`` skips and records malformed lines (in ``liftlab_rej_*`` temporary tables).
    A failing strict read raises :class:`_Retry` with the next mode.
    """
    try:
        if mode != "tolerant":
            _create(con, q, plan, mode == "whole", None)
            return []
        tag = uuid.uuid4().hex[:12]
        rejects = (f"liftlab_rej_{tag}", f"liftlab_scan_{tag}")
        _create(con, q, plan, True, rejects)
    except duckdb.ConversionException as err:
        if mode == "sampled":
            log.info("a value did not fit the sampled types; reading %s with whole-file types", q)
            raise _Retry("whole") from err
        if mode == "whole":
            raise _Retry("tolerant") from err
        raise _parse_error(err) from err
    except duckdb.Error as err:
        if is_memory_error(err):
            raise  # not the file's fault: the load runs again under a higher memory cap
        if mode != "tolerant" and plan.text:
            raise _Retry("tolerant") from err
        raise _parse_error(err) from err
    bad = _rejected_lines(con, rejects[0])
    con.execute(f"DROP TABLE IF EXISTS {quote_ident(rejects[0])}")
    con.execute(f"DROP TABLE IF EXISTS {quote_ident(rejects[1])}")
    broken = [b for b in bad if "INVALID ENCODING" in b[1] or "INVALID UNICODE" in b[1]]
    if broken:
        raise _WrongEncoding(int(min(b[3] for b in broken)))
    return bad


def _parse_error(err: Exception) -> IngestError:
    return IngestError(f"The file could not be parsed: {str(err).splitlines()[0]}. Check the "
                       f"separator and encoding, or fix the line named above.")


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


def _write(con, table: str, plan: Plan, source_name: str, mode: str) -> IngestReport:
    q = quote_ident(table)
    bad = _load(con, q, plan, mode)
    rows = int(con.execute(f"SELECT count(*) FROM {q}").fetchone()[0])
    if rows == 0:
        raise IngestError(f"'{source_name}' has a header but no data rows. Nothing was loaded; "
                          f"export the file again with its data.")
    warnings = plan.warnings + _dropped_notes(bad, rows)
    if plan.text:
        warnings += refine_text_columns(
            con, table, plan.meta["markers"], plan.meta.get("decimal_comma", False),
            plan.meta.get("head_rows", ()), plan.meta.get("text_markers"),
            dict(zip(clean_column_names(plan.raw)[0], plan.raw)))
    columns = _columns(con, q, plan.raw)
    warnings += _missing_notes(columns, plan.text)
    report = IngestReport(table, rows, columns, warnings, plan.meta.get("encoding"),
                          plan.meta.get("delimiter"), source_name, len(bad),
                          list(plan.meta.get("skipped", [])), plan.meta.get("sheet"))
    con.execute(f"DELETE FROM {META_SCHEMA}.catalog WHERE lower(table_name) = lower(?)", [table])
    con.execute(
        f"INSERT INTO {META_SCHEMA}.catalog (table_name, source, created_at, rows, columns_json, "
        f"report_json, origin) VALUES (?, ?, ?, ?, ?, ?, 'raw')",
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
        workdir: Folder for temporary copies (the workspace's ``tmp/``, see
            :func:`core.warehouse.scratch_root`; the system temp folder when None).

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
    suffix = suffix_of(path, source_name)
    with tempfile.TemporaryDirectory(dir=workdir, prefix=f"ingest-{pid_tag()}-") as tmp:
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
    plan = plan_file(con, path, suffix, options, tmp)
    if note:
        plan.warnings[:1] = [note]  # replaces the "chosen by you" line of the retry
    sniffed = content_note(path, source_name)
    if sniffed:
        plan.warnings.insert(0, sniffed)
    table = _resolve_table_name(con, options.table or default_table_name(source_name),
                                options.if_exists)
    mode = ["sampled"]

    def load() -> IngestReport:
        while True:
            try:
                with transaction(con):
                    return _write(con, table, plan, source_name, mode[0])
            except _Retry as retry:  # rolled back; read again more carefully
                mode[0] = retry.mode

    # a capped buffer pool keeps a large load's memory bounded (DuckDB spills instead);
    # an out-of-memory error rolls back and runs the load again with twice the cap
    with capped_memory(con, LOAD_MEMORY_MB) as cap:
        report = with_memory_retry(con, load, cap)
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
    with tempfile.TemporaryDirectory(dir=workdir, prefix=f"upload-{pid_tag()}-") as tmp:
        target = Path(tmp) / f"upload{suffix}"
        copy_upload(data, target)
        return ingest_file(con, target, options, source_name=filename, workdir=workdir)


