"""Data page glue: upload with a detection preview, the table list, and per-table tabs
(preview, columns, profile, personal data, SQL console).

Widget keys are prefixed ``data__``. Page-level state besides widgets: the map from an upload's id
to its staged copy on disk (``data__staged``, so a large upload is written once, not on every
rerun), the last load's report (shown once after the rerun that empties the uploader) and the
uploader's round number (its key changes after each load).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import streamlit as st

from core.config import Settings
from core.errors import AppError, QueryError
from core.features import summarize_target
from core.ingest import (
    FilePreview,
    IngestOptions,
    IngestReport,
    excel_sheets,
    file_kind,
    ingest_file,
    inspect_file,
    load_report,
    planned_table_name,
    split_notes,
)
from core.tables import (
    ACTIONS,
    PersonalMark,
    association_figure,
    balance_figure,
    column_figure,
    k_anonymity,
    load_marks,
    protect_table,
    reach_k,
    save_marks,
    suggest_personal,
)
from core.warehouse import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    QueryFailed,
    TableInfo,
    connect,
    list_tables,
    original_names,
    read_table,
    run_query,
    scratch_root,
    table_columns,
)
from ui import resources, state
from ui.widgets import errors_shown, show_error

_STAGED = "data__staged"
_LAST_REPORT = "data__last_report"
_ROUND = "data__upload_round"
_DELIMITERS = {"detect": None, "comma ,": ",", "semicolon ;": ";", "tab": "\t", "pipe |": "|"}
_ENCODINGS = ["utf-8", "cp1252", "latin-1", "gb18030", "utf-16", "cp1250", "cp1251", "big5",
              "cp932"]
_HEADER = {"detect": None, "yes": True, "no (name them column_1 …)": False}


# ---------------------------------------------------------------- upload


def _stage(settings: Settings, upload) -> Path:
    """Copy an upload once into ``<data dir>/uploads`` (1 MiB chunks); returns its path."""
    staged = st.session_state.setdefault(_STAGED, {})
    path = staged.get(upload.file_id)
    if path and Path(path).exists():
        return Path(path)
    folder = settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{upload.file_id}{Path(upload.name).suffix.lower()}"
    upload.seek(0)
    with open(target, "wb") as out:
        shutil.copyfileobj(upload, out, 1 << 20)
    staged[upload.file_id] = str(target)
    return target


def _options(preview_kind: str, sheets: tuple[str, ...]) -> dict:
    """The reading choices the analyst can override (empty = detect)."""
    with st.expander("Reading options", expanded=False):
        c1, c2, c3 = st.columns(3)
        chosen: dict = {}
        if preview_kind == "text":
            enc = c1.selectbox("Encoding", ["detect", *_ENCODINGS], key="data__encoding")
            chosen["encoding"] = None if enc == "detect" else enc
            delim = c2.selectbox("Separator", list(_DELIMITERS), key="data__delimiter")
            chosen["delimiter"] = _DELIMITERS[delim]
        if preview_kind in ("text", "excel"):
            header = c3.selectbox("First row is a header", list(_HEADER), key="data__header")
            chosen["header"] = _HEADER[header]
            chosen["unknown_as_missing"] = st.checkbox(
                "Also read 'unknown' as missing (off: it is often a real category)",
                key="data__unknown")
        if len(sheets) > 1:
            chosen["sheet"] = st.selectbox("Sheet", sheets, key="data__sheet")
    return chosen


def _ask_encoding(preview: FilePreview) -> str | None:
    """When the detector is unsure, show each candidate's reading and let the analyst choose."""
    guess = preview.encoding
    st.warning("The text encoding is not certain. Pick the reading in which names and accents "
               "look right; nothing is loaded until you choose.")
    for enc, text in preview.previews.items():
        st.caption(f"Read as **{enc}**")
        st.code(text or "(no text)", language=None)
    choice = st.radio("Encoding", ["(choose)", *guess.candidates], horizontal=True,
                      key="data__encoding_choice")
    return None if choice == "(choose)" else choice


_DEFAULT_MARKERS = "?, NA, N/A, n/a, null, NULL, NaN, nan, #N/A"


def _names_and_markers(preview: FilePreview, file_id: str) -> dict:
    """Column names (editable: a headerless file's ``column_1 …`` can get real names) and the
    cell values read as missing, confirmed before loading. Returns IngestOptions fields that
    differ from what was detected."""
    if preview.kind not in ("text", "excel") or not preview.columns:
        return {}
    with st.expander("Column names and missing values"
                     + (" — this file has no header: name its columns here"
                        if preview.header is False else ""), expanded=preview.header is False
                     or bool(preview.markers)):
        rows = [{"column": c, "name": c,
                 "missing markers in the first rows": ", ".join(
                     f"'{m}' ×{n}" for m, n in preview.markers.get(c, {}).items())}
                for c in preview.columns]
        edited = st.data_editor(rows, key=f"data__names_{file_id}", hide_index=True,
                                width="stretch",
                                disabled=["column", "missing markers in the first rows"])
        typed = st.text_input(
            "Cells meaning missing (comma-separated; blank cells always are)", _DEFAULT_MARKERS,
            key=f"data__markers_{file_id}",
            help="Read as missing in every column; in columns of numbers also '-' and 'None'. "
                 "The load report says how many cells of each column were converted.")
    out: dict = {}
    names = tuple(str(r["name"] or "").strip() for r in edited)
    if names != tuple(preview.columns):
        out["column_names"] = names
    if typed.strip() != _DEFAULT_MARKERS:
        out["missing_markers"] = tuple(m.strip() for m in typed.split(",") if m.strip())
    return out


def _detected(preview: FilePreview) -> None:
    parts = []
    if preview.encoding is not None:
        parts.append(f"encoding **{preview.encoding.encoding}**")
    if preview.delimiter is not None:
        parts.append(f"separator **{preview.delimiter!r}**")
    if preview.header is not None:
        parts.append("header row **" + ("found" if preview.header else "not found") + "**")
    if preview.sheets:
        parts.append(f"sheets: {', '.join(preview.sheets)}")
    st.caption("Detected: " + (", ".join(parts) or preview.kind))
    for note in preview.warnings:
        st.caption(f":material/info: {note}")
    st.dataframe(preview.rows, hide_index=True, width="stretch")


def _if_exists(settings: Settings, filename: str, table: str | None) -> str:
    with connect(settings) as con:
        name, exists = planned_table_name(con, filename, table)
    if not exists:
        st.caption(f"It will be loaded as table `{name}`.")
        return "keep_both"
    choice = st.radio(f"A table `{name}` already exists.", ["keep both (new name)", "replace it"],
                      key="data__if_exists", horizontal=True)
    return "replace" if choice.startswith("replace") else "keep_both"


def show_report(report: IngestReport) -> None:
    """The outcome of a load: rows, encoding, separator, every warning and rename.

    How the file was read (a confidently detected encoding, the sheet) is an informational
    note; anything the analyst should check (renames, dropped lines, missing markers) a warning.
    """
    st.success(f"Loaded **{report.rows:,} rows** × {len(report.columns)} columns into table "
               f"`{report.table}`" + (f" (encoding {report.encoding}, separator "
                                      f"{report.delimiter!r})" if report.encoding else "") + ".")
    notes, warnings = split_notes(report.warnings)
    for note in notes:
        st.caption(f":material/info: {note}")
    for warning in warnings:
        st.warning(warning)


def upload_label() -> str:
    """The uploader's label, in the analyst's terms.

    The size limit (``server.maxUploadSize``) is not repeated here: Streamlit's drop zone
    already states it once, as "1GB per file".
    """
    return ("Upload a data file: CSV, TSV or TXT, Excel (.xlsx), Parquet, or JSON/NDJSON (other "
            "extensions, e.g. UCI's .data, are read by their content)")


def upload_section(settings: Settings) -> None:
    """File uploader, detection preview, options, name clash question and the Load button.

    A file that cannot be read shows its error here and nothing else: the tables below keep
    rendering.
    """
    last = st.session_state.pop(_LAST_REPORT, None)
    if last is not None:
        show_report(last)
    upload = st.file_uploader(
        upload_label(), type=None,  # any name: an unknown extension is read by its content
        key=f"data__upload_{st.session_state.get(_ROUND, 0)}")
    if upload is None:
        return
    try:
        _upload_flow(settings, upload)
    except AppError as err:
        show_error(err)


def _upload_flow(settings: Settings, upload) -> None:
    """Detection preview, reading options and loading; raises :class:`AppError` on failure."""
    path = _stage(settings, upload)
    kind = file_kind(upload.name, path)
    chosen = _options(kind, tuple(excel_sheets(path)) if kind == "excel" else ())
    preview = inspect_file(path, upload.name, IngestOptions(**chosen), scratch_root(settings))
    if preview.encoding is not None and not preview.encoding.certain and not chosen.get("encoding"):
        chosen["encoding"] = _ask_encoding(preview)
        if chosen["encoding"] is None:
            return
    chosen.update(_names_and_markers(preview, upload.file_id))  # above the long preview table
    _detected(preview)
    table = st.text_input("Table name (optional)", key="data__table_name") or None
    if_exists = _if_exists(settings, upload.name, table)
    if st.button("Load into warehouse", type="primary", key="data__load"):
        options = IngestOptions(table=table, if_exists=if_exists, **chosen)
        with st.spinner(f"Loading {upload.name} …"), connect(settings) as con:
            report = ingest_file(con, path, options, source_name=upload.name,
                                 workdir=scratch_root(settings))
        Path(path).unlink(missing_ok=True)
        st.session_state[_STAGED].pop(upload.file_id, None)
        state.set_active_table(report.table)
        st.session_state["data__table"] = report.table  # show the new table below
        st.session_state[_LAST_REPORT] = report
        st.session_state[_ROUND] = st.session_state.get(_ROUND, 0) + 1  # a fresh, empty uploader
        st.rerun()


# ---------------------------------------------------------------- tables


def tables_section(settings: Settings) -> tuple[str, TableInfo] | None:
    """List the tables and pick one; returns ``(table, info)`` or None when there are none."""
    with errors_shown(), connect(settings) as con:
        tables = list_tables(con)
    if not tables:
        st.info("The warehouse is empty. Upload a file above to start.")
        return None
    st.subheader("Tables")
    st.dataframe([{"table": t.table, "rows": t.rows, "columns": t.columns, "source": t.source}
                  for t in tables], hide_index=True, width="stretch")
    names = [t.table for t in tables]
    current = state.active_table()
    table = st.selectbox("Table", names, index=names.index(current) if current in names else 0,
                         key="data__table")
    state.set_active_table(table)
    return table, tables[names.index(table)]


# ---------------------------------------------------------------- per-table tabs


def _columns_tab(settings: Settings, table: str) -> None:
    with connect(settings) as con:
        columns = table_columns(con, table)
        originals = original_names(con, table)
        report = load_report(con, table)
    missing = {c["name"]: c["missing"] for c in (report or {}).get("columns", [])}
    st.dataframe([{"column": c, "type": t, "header in file": originals.get(c, c),
                   "missing": missing.get(c)} for c, t in columns],
                 hide_index=True, width="stretch")
    if report:
        st.caption(f"Loaded from `{report['source']}`"
                   + (f" · encoding {report['encoding']}" if report.get("encoding") else "")
                   + (f" · separator {report['delimiter']!r}" if report.get("delimiter") else "")
                   + (f" · sheet {report['sheet']}" if report.get("sheet") else ""))
        for note in report["warnings"]:
            st.caption(f":material/info: {note}")


def _target_choice(settings: Settings, table: str, names: list[str]) -> tuple[str | None, str | None]:
    c1, c2 = st.columns(2)
    target = c1.selectbox("Target (optional)", ["(none)", *names],
                          key=f"data__profile_target_{table}")
    if target == "(none)":
        return None, None
    with connect(settings) as con:
        summary = summarize_target(con, table, target)
    if len(summary.classes) != 2:
        return target, None
    positive = c2.radio("Positive class", summary.classes, horizontal=True,
                        index=summary.classes.index(summary.suggested_positive),
                        key=f"data__profile_positive_{table}_{target}",
                        help=summary.reason)
    return target, positive


def _profile_tab(settings: Settings, table: str, info: TableInfo) -> None:
    with connect(settings) as con:
        names = [c for c, _ in table_columns(con, table)]
        hidden = tuple(m.column for m in load_marks(con, table))
    target, positive = _target_choice(settings, table, names)
    if not st.toggle("Compute the profile", key="data__profile_on",
                     help="Statistics for every column, computed in DuckDB."):
        return
    p = resources.profile(str(settings.data_dir), table, target, positive, hidden,
                          (info.rows, info.columns))
    st.caption(f"{p.rows:,} rows · {len(p.columns)} columns · computed in {p.seconds:.2f} s"
               + (f" · hidden personal columns: {', '.join(hidden)}" if hidden else ""))
    for warning in p.warnings:
        st.warning(warning)
    for fig in (balance_figure(p), association_figure(p)):
        if fig is not None:
            st.plotly_chart(fig, key=f"data__fig_{fig.layout.title.text}")
    st.dataframe(p.summary(), hide_index=True, width="stretch")
    chosen = st.selectbox("Column detail", [c.name for c in p.columns], key=f"data__profile_col_{table}")
    col = next(c for c in p.columns if c.name == chosen)
    if col.stats:
        st.caption(" · ".join(f"{k} {v:,.4g}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in col.stats.items() if v is not None))
    fig = column_figure(col)
    if fig is not None:
        st.plotly_chart(fig, key="data__fig_column")
    elif col.hidden:
        st.info("Values of personal columns are not shown.")


def _privacy_tab(settings: Settings, table: str) -> None:
    """Marks, protected copy and k-anonymity of one table; widget keys carry the table's name,
    so switching table never carries one table's choices (or empty marks) over to another."""
    with connect(settings) as con:
        names = [c for c, _ in table_columns(con, table)]
        marks = {m.column: m for m in load_marks(con, table)}
        suggested = suggest_personal(con, table)
    for s in suggested:
        st.caption(f":material/person: `{s.column}`: {s.reason}")
    default = list(marks) or [s.column for s in suggested]
    chosen = st.multiselect("Personal columns", names, default=default,
                            key=f"data__personal__{table}")
    rows = [{"column": c, "action": marks[c].action if c in marks else "pseudonymise",
             "parameter": marks[c].param if c in marks else None} for c in chosen]
    edited = st.data_editor(rows, key=f"data__personal_editor__{table}__{'|'.join(chosen)}",
                            hide_index=True, width="stretch",
                            disabled=["column"], column_config={
                                "action": st.column_config.SelectboxColumn(options=list(ACTIONS)),
                                "parameter": st.column_config.NumberColumn(
                                    help="generalise: band width of numbers (10), characters "
                                         "of text kept (3); dates keep the year")})
    out = st.text_input("Protected table", f"{table}_protected",
                        key=f"data__protected_name__{table}")
    replace = st.checkbox("Replace my earlier protected copy of that name",
                          key=f"data__protect_replace__{table}")
    c1, c2 = st.columns(2)
    new_marks = None
    try:
        new_marks = [PersonalMark(r["column"], r["action"], r["parameter"] or None) for r in edited]
        if c1.button("Save marks", key="data__save_marks"):
            with connect(settings) as con:
                save_marks(con, table, new_marks)
            st.success(f"Marked {len(new_marks)} column(s) as personal; they are hidden from "
                       f"profiles and the SQL console.")
        if c2.button("Write protected copy", key="data__protect", disabled=not new_marks):
            with connect(settings) as con:
                written = protect_table(con, settings, table, out, new_marks, replace)
            st.success(f"Wrote `{written}`: personal columns dropped, pseudonymised (keyed hash, "
                       f"key in the data directory) or generalised. The raw table is unchanged.")
    except AppError as err:
        show_error(err)
    _k_anonymity(settings, table, names, new_marks, (out, replace))


def _k_anonymity(settings: Settings, table: str, names: list[str],
                 marks: list[PersonalMark] | None, target: tuple[str, bool]) -> None:
    """Group sizes over quasi-identifiers, raw and after the bands above, and *Reach k*."""
    st.subheader("k-anonymity")
    qis = st.multiselect("Quasi-identifiers (e.g. age, postcode, gender)", names,
                         key=f"data__qi__{table}")
    k = st.number_input("Aim for groups of at least", 2, 100, 5, key=f"data__k__{table}")
    if not qis:
        return
    with connect(settings) as con:
        r = k_anonymity(con, table, qis, int(k))
        coarse = k_anonymity(con, table, qis, int(k), marks) if marks else r
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Smallest group (k) now", f"{r.k:,}")
    c2.metric("Groups", f"{r.groups:,}")
    c3.metric("Smallest group after the bands", f"{coarse.k:,}")
    c4.metric(f"Rows to suppress (groups < {int(k)})", f"{coarse.rows_at_risk:,}")
    st.caption("Reach k: the quasi-identifiers are generalised along the bands above (numbers "
               "to bands of the width, text to its first characters, dates to the year; a "
               "column without a mark keeps its values), then the rows still in groups "
               f"smaller than {int(k)} are suppressed (left out). The result is written as the "
               "protected table named above; the raw table is unchanged.")
    if st.button(f"Reach k = {int(k)} and write the protected copy", key=f"data__reach_k__{table}",
                 disabled=marks is None):
        with connect(settings) as con:
            res = reach_k(con, settings, table, qis, int(k), marks, target[0], target[1])
        st.success(f"Wrote `{res.table}`: {res.rows_written:,} of {res.rows_before:,} rows, "
                   f"{res.k_reached}-anonymous over {', '.join(res.quasi_identifiers)} "
                   f"({res.rows_suppressed:,} rows suppressed, in {res.groups_suppressed:,} "
                   f"groups smaller than {res.k}).")
        st.caption(" · ".join(f"{c}: {how}" for c, how in res.generalised.items()))
        for note in res.notes:
            st.info(note)


def _sql_tab(settings: Settings, table: str) -> None:
    st.caption("Read-only: one SELECT at a time; files, settings and extensions are off; "
               "personal columns are hidden.")
    sql = st.text_area("SQL", f'SELECT * FROM "{table}" LIMIT 10', key=f"data__sql_{table}")
    limit = st.number_input("Row cap", 1, MAX_LIMIT, DEFAULT_LIMIT, key="data__sql_limit")
    if not st.button("Run query", key="data__sql_run"):
        return
    try:
        result = run_query(settings, sql, int(limit))
    except QueryFailed as err:  # a plain mistake in the query: what DuckDB said, then the help
        st.error(f"**{err.title}.** {err.detail.removeprefix(err.title + ': ')}")
        if err.hint:
            st.info(err.hint)
        return
    except QueryError as err:  # refused (files, COPY, ATTACH, …) or stopped: say why
        st.error(f"**{err.title}.** {err}")
        return
    for note in result.notes:
        st.caption(f":material/info: {note}")
    st.dataframe(result.frame(), hide_index=True, width="stretch")
    st.caption(f"{len(result.rows):,} rows in {result.seconds:.2f} s")
    st.download_button("Download CSV", result.to_csv(), "query.csv", "text/csv",
                       key="data__sql_csv")


def _shown_here(section, *args) -> None:
    """Run one tab; an :class:`AppError` shows inside it and the other tabs still render."""
    try:
        section(*args)
    except AppError as err:
        show_error(err)


def table_tabs(settings: Settings, table: str, info: TableInfo) -> None:
    """Preview, Columns, Profile, Personal data and SQL console tabs of one table."""
    with errors_shown(), connect(settings) as con:
        hidden = [m.column for m in load_marks(con, table)]
        preview = read_table(con, table, limit=100)
    tabs = st.tabs(["Preview (first 100 rows)", "Columns", "Profile", "Personal data",
                    "SQL console"])
    with tabs[0]:
        if hidden:
            st.caption(f"Personal columns hidden: {', '.join(hidden)}")
        st.dataframe(preview.drop(columns=hidden), hide_index=True, width="stretch")
    with tabs[1]:
        _shown_here(_columns_tab, settings, table)
    with tabs[2]:
        _shown_here(_profile_tab, settings, table, info)
    with tabs[3]:
        _shown_here(_privacy_tab, settings, table)
    with tabs[4]:
        _shown_here(_sql_tab, settings, table)
