"""How to read a file: the options the analyst may set before loading, each detected when left
None. Shared by the preview (:mod:`._preview`) and the load (:mod:`._ingest`)."""

from __future__ import annotations

from dataclasses import dataclass

IF_EXISTS = ("fail", "replace", "keep_both")


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
        missing_markers: Cell values that mean "missing" (``?``, ``NA``, ``null`` …); None
            uses :data:`core.ingest.MISSING_MARKERS`. Every conversion is reported per column.
        column_names: Names for the columns, in file order (e.g. for a headerless file);
            None keeps the header (or ``column_1 …``). They are cleaned for SQL like headers,
            and kept as written for display.
    """

    table: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    if_exists: str = "keep_both"
    header: bool | None = None
    unknown_as_missing: bool = False
    missing_markers: tuple[str, ...] | None = None
    column_names: tuple[str, ...] | None = None
