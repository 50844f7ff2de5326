"""CSV dialect of a UTF-8 text file: separator, quoting, header, decimal comma, footer lines.

The separator is chosen by parsing the first lines with each candidate (``,`` ``;`` tab ``|``) and
keeping the one that gives the most consistent number of fields; DuckDB's ``sniff_csv`` then finds
quote, escape, header and leading lines to skip (on a copy of the file's first 256 KiB). Footer lines (``Total;;1.234,56``,
``Exported by SAP on …``) are found in the file's tail so they can be cut off and reported instead
of breaking type detection. Only the file's head and tail are read here.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from core.errors import IngestError
from core.warehouse import pid_tag

DELIMITERS = (",", ";", "\t", "|")
COMMA_SPACE = ", "  # a comma always followed by a space: one separator of two characters
_HEAD_BYTES = 1 << 18  # 256 KiB: thousands of lines, and little memory held during the load
_TAIL_BYTES = 1 << 16
_MAX_FOOTER_LINES = 10
_TOTAL_WORDS = re.compile(
    r"^\s*(total|totals|sum|summe|gesamt|totaal|totale|grand total|subtotal|count|average|"
    r"σ|合计|总计)\b", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"[-+]?(\d{1,3}(\.\d{3})+|\d+),\d+")
_THOUSANDS_DOT = re.compile(r"[-+]?\d{1,3}(\.\d{3})+")
_INTEGER = re.compile(r"[-+]?\d+")
_DECIMAL_POINT = re.compile(r"[-+]?\d*\.\d+")


@dataclass(frozen=True)
class CsvDialect:
    """How a delimited text file is laid out.

    Attributes:
        delimiter: Field separator.
        quote: Quote character (``"`` when none was detected).
        escape: Escape character inside quotes.
        header: Whether the first (non-skipped) line holds column names.
        skip_rows: Lines before the header (titles, notes) that are not data.
        columns: Header names exactly as written, or ``column_1 …`` without a header.
        decimal_comma: Numbers are written ``1.234,56`` (``,`` decimal, ``.`` thousands).
        footer_lines: Trailing lines that are totals or notes, not data (as written).
        footer_offset: Byte offset where the footer starts, None without a footer.
        head_rows: The first data rows (up to 500) as written, for a first look at the values.
    """

    delimiter: str
    quote: str
    escape: str
    header: bool
    skip_rows: int
    columns: tuple[str, ...]
    decimal_comma: bool = False
    footer_lines: tuple[str, ...] = ()
    footer_offset: int | None = None
    head_rows: tuple[tuple[str, ...], ...] = ()


def _read_head(path: Path) -> str:
    with open(path, "rb") as fh:
        data = fh.read(_HEAD_BYTES)
        more = bool(fh.read(1))
    text = data.decode("utf-8-sig", errors="replace")
    if more and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def _reader_args(delimiter: str) -> dict:
    """``csv.reader`` arguments for a separator (``", "`` is a comma that skips the space)."""
    if delimiter == COMMA_SPACE:
        return {"delimiter": ",", "skipinitialspace": True}
    return {"delimiter": delimiter}


def comma_space(text: str, quote: str = '"') -> bool:
    """Whether every comma of the first lines is followed by a space, as in UCI's files
    (``39, State-gov, 77516``): the values then start with a space that is not theirs.

    Args:
        text: The first lines of the file, decoded.
        quote: Quote character (commas inside quotes do not count).

    Returns:
        True when at least 20 commas separate fields and all of them are followed by a space.
    """
    lines = [ln for ln in text.splitlines()[:200] if ln.strip()]
    seps = after = 0
    for line in lines[:-1] if len(lines) > 1 else lines:  # the last line may be cut short
        inside = False
        for i, ch in enumerate(line):
            if ch == quote:
                inside = not inside
            elif ch == "," and not inside:
                seps += 1
                after += line[i + 1:i + 2] == " "
    return seps >= 20 and after == seps


def _rows(text: str, delimiter: str, quote: str = '"', limit: int = 500) -> list[list[str]]:
    lines = text.splitlines(keepends=True)[: limit * 3]  # enough even with quoted newlines
    reader = csv.reader(io.StringIO("".join(lines)), quotechar=quote or '"',
                        **_reader_args(delimiter))
    out = []
    try:
        for row in reader:
            if row and any(f.strip() for f in row):
                out.append(row)
            if len(out) >= limit:
                break
    except csv.Error:
        pass
    return out


def detect_delimiter(text: str) -> str:
    """Pick the separator that splits the first lines into the most consistent field counts.

    Args:
        text: The first lines of the file, decoded.

    Returns:
        One of ``,`` ``;`` tab ``|`` (``,`` when nothing splits the lines).
    """
    best, best_score = ",", (False, 0.0, 0)
    for delim in DELIMITERS:
        counts = Counter(len(r) for r in _rows(text, delim, limit=200))
        if not counts:
            continue
        modal, hits = counts.most_common(1)[0]
        score = (modal > 1, hits / sum(counts.values()), modal)
        if score > best_score:
            best, best_score = delim, score
    return best


def _duck_sniff(con: duckdb.DuckDBPyConnection, path: Path, delimiter: str,
                header: bool | None) -> dict:
    args: dict = {"delim": delimiter, "sample_size": 20480, "ignore_errors": True}
    if header is not None:
        args["header"] = header
    opts = ", ".join(f"{k} := ?" for k in args)
    try:
        cur = con.execute(f"SELECT * FROM sniff_csv(?, {opts})", [str(path), *args.values()])
    except duckdb.Error as err:
        raise IngestError(
            f"The file could not be read as delimited text: {str(err).splitlines()[0]}. Check "
            f"that it is a CSV, or name the separator (--delimiter ';')."
        ) from err
    return dict(zip([d[0] for d in cur.description], cur.fetchone()))


def _one_char(value, default: str) -> str:
    return value if isinstance(value, str) and len(value) == 1 else default


def _header_names(text: str, dialect_args: dict, ncols: int) -> tuple[str, ...]:
    lines = text.splitlines(keepends=True)[dialect_args["skip"]:]
    rows = _rows("".join(lines), dialect_args["delim"], dialect_args["quote"], limit=1)
    raw = rows[0] if rows else []
    return tuple(raw) if len(raw) == ncols else ()


def _is_decimal_comma(rows: list[list[str]], delimiter: str) -> bool:
    if delimiter == "," or not rows:
        return False
    seen_comma = False
    for col in zip(*[r for r in rows if len(r) == len(rows[0])]):
        values = [v.strip() for v in col if v.strip()]
        if any(_DECIMAL_POINT.fullmatch(v) and not _THOUSANDS_DOT.fullmatch(v) for v in values):
            return False
        numeric = all(_DECIMAL_COMMA.fullmatch(v) or _THOUSANDS_DOT.fullmatch(v)
                      or _INTEGER.fullmatch(v) or v == "-" for v in values)
        seen_comma |= numeric and any(_DECIMAL_COMMA.fullmatch(v) for v in values)
    return seen_comma


def _is_footer(line: str, delimiter: str, quote: str, ncols: int) -> bool:
    if line.count(quote) % 2:
        return False  # part of a quoted field spanning lines
    fields = next(csv.reader([line], quotechar=quote, **_reader_args(delimiter)), [])
    if len(fields) != ncols:
        return True
    empty = sum(not f.strip() for f in fields)
    return bool(_TOTAL_WORDS.match(fields[0])) and empty >= ncols // 2


def find_footer(path: Path, delimiter: str, quote: str, ncols: int) -> tuple[tuple[str, ...], int | None]:
    """Find trailing total/notes lines that do not fit the table.

    A trailing line is a footer when its field count differs from the header's, or when it
    starts with a word like *Total* and at least half its fields are empty.

    Args:
        path: UTF-8 file.
        delimiter: Field separator.
        quote: Quote character.
        ncols: Number of columns of the table.

    Returns:
        ``(lines, offset)``: the footer lines as written, and the byte offset where they start
        (None when there is no footer).
    """
    if ncols < 2:
        return (), None
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - _TAIL_BYTES))
        tail = fh.read()
    lines = tail.splitlines(keepends=True)
    if size > _TAIL_BYTES:
        lines = lines[1:]  # first one is probably cut
    offset, footer = size, []
    for raw in reversed(lines[-(_MAX_FOOTER_LINES * 2):]):
        text = raw.decode("utf-8", errors="replace").strip("\r\n")
        if text.strip() and not _is_footer(text, delimiter, quote, ncols):
            break
        offset -= len(raw)
        if text.strip():
            footer.append(text)
        if len(footer) > _MAX_FOOTER_LINES:
            return (), None
    if not footer:
        return (), None
    return tuple(reversed(footer)), offset


def sniff_dialect(con: duckdb.DuckDBPyConnection, path: Path, delimiter: str | None = None,
                  header: bool | None = None, workdir: Path | None = None) -> CsvDialect:
    """Work out the dialect of a UTF-8 delimited text file from its head and tail.

    Args:
        con: Any DuckDB connection (used for ``sniff_csv``).
        path: The UTF-8 file.
        delimiter: Known separator, or None to detect it.
        header: Known header presence, or None to detect it.
        workdir: Folder for the copy of the head DuckDB sniffs (system temp when None).

    Returns:
        The :class:`CsvDialect`.

    Raises:
        IngestError: The file cannot be read as delimited text.
    """
    head = _read_head(path)
    delim = delimiter or detect_delimiter(head)
    if delimiter is None and delim == "," and comma_space(head):
        delim = COMMA_SPACE
    with tempfile.TemporaryDirectory(dir=workdir, prefix=f"sniff-{pid_tag()}-") as tmp:
        # DuckDB sniffs a copy of the head: its read buffer is then the head's size, not 32 MB
        # of the big file, which would stay in the process's memory for the whole load.
        head_copy = Path(tmp) / "head.csv"
        head_copy.write_text(head, encoding="utf-8")
        sniffed = _duck_sniff(con, head_copy, delim, header)
    quote = _one_char(sniffed["Quote"], '"')
    args = {"delim": delim, "quote": quote, "skip": int(sniffed.get("SkipRows") or 0)}
    ncols = len(sniffed["Columns"])
    has_header = bool(sniffed["HasHeader"]) if header is None else header
    names = _header_names(head, args, ncols) if has_header else ()
    if has_header and not names:
        names = tuple(c["name"] for c in sniffed["Columns"])
    if not has_header:
        names = tuple(f"column_{i}" for i in range(1, ncols + 1))
    footer, offset = find_footer(path, delim, quote, ncols)
    body = _rows("".join(head.splitlines(keepends=True)[args["skip"] + has_header:]), delim, quote)
    return CsvDialect(delim, quote, _one_char(sniffed["Escape"], quote), has_header, args["skip"],
                      names, _is_decimal_comma(body, delim), footer, offset,
                      tuple(tuple(r) for r in body))
