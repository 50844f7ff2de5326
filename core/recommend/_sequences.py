"""Per-user item sequences from an event table, built in SQL, and the leave-last-out split.

An event table has one row per interaction: who (user), what (item), when (time), and optionally
an event type, a quantity, a unit price, an order id and an item name. :func:`build_sequences`
turns it into one time-ordered item sequence per user:

1. rows with a missing user, item or time are dropped; filters apply (event types, cancellations
   — quantity <= 0 or an order id starting with ``C`` as in Online Retail — and excluded items);
2. repeated rows of the same (user, item, time) become one event (an invoice listing an item on
   two lines is one purchase);
3. items with fewer than ``min_item`` events are dropped, then users with fewer than ``min_user``
   events (one pass each, in that order);
4. each user keeps the most recent ``max_len`` events;
5. events are ordered by time; ties (many events share a timestamp: a whole basket, or films
   rated in the same second) keep the order in which the table records them — its row order,
   e.g. Online Retail's line order within an invoice. Raw tables are never rewritten, so this
   order is stable: the same table always gives the same sequences.

Items are numbered 1..n_items in ascending item order; 0 is reserved for padding.
:func:`leave_last_out` then holds out each user's last item for test and the one before for
validation (Kang & McAuley, 2018), the rest is for training.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from core.errors import AppError, SchemaError
from core.warehouse import quote_ident, require_table, table_columns

CANCEL_PREFIX = "C"
MIN_EVENTS_PER_USER = 3  # one to train on, one to validate, one to test


def check_fields(obj, error: type[AppError], checks: list[tuple[str, bool, str]]) -> None:
    """Raise ``error`` naming the first field whose check failed, what is allowed and its value.

    Args:
        obj: The config object (its attribute supplies the value received).
        error: The :class:`~core.errors.AppError` subclass to raise.
        checks: ``(field, ok, allowed)`` triples, e.g. ``("k", 1 <= k <= 100, "in [1, 100]")``.
    """
    for name, ok, allowed in checks:
        if not ok:
            raise error(f"{name} must be {allowed}; got {getattr(obj, name)!r}.")


@dataclass(frozen=True)
class EventColumns:
    """Which columns of an event table play which part.

    Attributes:
        table: Warehouse table with one row per interaction.
        user: User (customer) id column.
        item: Item (product, film) id column; also what the runs list shows as the target.
        time: Timestamp column (any orderable type: TIMESTAMP, DATE, epoch seconds).
        event: Optional event-type column (e.g. view / cart / purchase).
        quantity: Optional quantity column; rows with quantity <= 0 count as cancellations.
        price: Optional unit-price column (currency units), for the value of a conversion.
        order: Optional order/invoice id column; ids starting with ``C`` are cancellations.
        name: Optional item name column (a product description), for display only.
    """

    table: str
    user: str
    item: str
    time: str
    event: str | None = None
    quantity: str | None = None
    price: str | None = None
    order: str | None = None
    name: str | None = None

    def chosen(self) -> dict[str, str]:
        """Role → column for every column that is set (table excluded)."""
        roles = ("user", "item", "time", "event", "quantity", "price", "order", "name")
        return {r: getattr(self, r) for r in roles if getattr(self, r)}


@dataclass(frozen=True)
class SequenceOptions:
    """How sequences are filtered and evaluated.

    Attributes:
        event_types: Keep only these event types (as text); empty keeps all.
        drop_cancellations: Drop rows with quantity <= 0 and orders whose id starts with ``C``.
        exclude_items: Item values (as text) to drop, e.g. Online Retail's ``POST`` (postage).
        min_item: Minimum events per item, >= 1.
        min_user: Minimum events per user, >= 3 (train, validation and test need one each).
        max_len: Most recent events kept per user, >= min_user.
        exclude_seen: Never recommend an item the user already has (right for films; wrong for
            retail, where repeat purchases are normal).
    """

    event_types: tuple[str, ...] = ()
    drop_cancellations: bool = True
    exclude_items: tuple[str, ...] = ()
    min_item: int = 5
    min_user: int = 5
    max_len: int = 200
    exclude_seen: bool = False

    def __post_init__(self) -> None:
        check_fields(self, SchemaError, [
            ("min_item", self.min_item >= 1, "an integer >= 1"),
            ("min_user", self.min_user >= MIN_EVENTS_PER_USER,
             f"an integer >= {MIN_EVENTS_PER_USER} (train, validation and test need one each)"),
            ("max_len", self.max_len >= self.min_user, f"an integer >= min_user ({self.min_user})"),
        ])


@dataclass(frozen=True)
class SequenceStats:
    """What the filters kept.

    Attributes:
        rows: Rows of the table.
        rows_kept: Rows left after missing values and filters.
        events: Events in the sequences (after merging repeats, count filters and max_len).
        users: Users with a sequence.
        items: Distinct items (catalogue size).
        median_length: Median events per user.
        repeat_share: Share of events whose item the user already had (repeat purchases);
            near 0 for ratings, where seen items are best excluded.
    """

    rows: int
    rows_kept: int
    events: int
    users: int
    items: int
    median_length: float
    repeat_share: float = 0.0


@dataclass(frozen=True)
class Sequences:
    """One item sequence per user, stored flat.

    Attributes:
        users: User ids as text, shape (n_users,), sorted.
        offsets: Start of each user's events in ``items``, shape (n_users + 1,).
        items: Item indices 1..n_items, time-ordered per user, shape (n_events,) int32.
        item_labels: The item value of index i at position i - 1 (length n_items).
        item_names: Display name per item (``None`` where unknown), length n_items.
        item_values: Revenue of one conversion per item index in currency units, shape
            (n_items + 1,); NaN where the data has no price (index 0 is padding).
        stats: The :class:`SequenceStats`.
    """

    users: np.ndarray
    offsets: np.ndarray
    items: np.ndarray
    item_labels: list
    item_names: list
    item_values: np.ndarray
    stats: SequenceStats

    @property
    def n_items(self) -> int:
        """Catalogue size (padding index 0 excluded)."""
        return len(self.item_labels)

    def sequence(self, i: int) -> np.ndarray:
        """Item indices of the i-th user, oldest first, shape (length,)."""
        return self.items[self.offsets[i]:self.offsets[i + 1]]

    def all(self) -> list[np.ndarray]:
        """Every user's sequence, in ``users`` order."""
        return [self.sequence(i) for i in range(len(self.users))]


def _check_columns(con: duckdb.DuckDBPyConnection, cols: EventColumns) -> None:
    require_table(con, cols.table)
    known = [c for c, _ in table_columns(con, cols.table)]
    missing = {role: c for role, c in cols.chosen().items() if c not in known}
    if missing:
        wrong = ", ".join(f"{role} '{c}'" for role, c in missing.items())
        raise SchemaError(
            f"Table '{cols.table}' has no column for {wrong}. Its columns are: {', '.join(known)}."
        )
    roles = [c for r, c in cols.chosen().items() if r in ("user", "item", "time")]
    if len(set(roles)) < 3:
        raise SchemaError("User, item and time must be three different columns; pick again.")


def _filters(cols: EventColumns, opts: SequenceOptions) -> tuple[list[str], list]:
    where = [f"{quote_ident(c)} IS NOT NULL" for c in (cols.user, cols.item, cols.time)]
    params: list = []
    if cols.event and opts.event_types:
        where.append(f"list_contains(?, CAST({quote_ident(cols.event)} AS VARCHAR))")
        params.append(list(opts.event_types))
    if opts.drop_cancellations and cols.quantity:
        where.append(f"coalesce({quote_ident(cols.quantity)} > 0, true)")
    if opts.drop_cancellations and cols.order:
        where.append(f"NOT coalesce(starts_with(CAST({quote_ident(cols.order)} AS VARCHAR), ?), "
                     f"false)")
        params.append(CANCEL_PREFIX)
    if opts.exclude_items:
        where.append(f"NOT list_contains(?, CAST({quote_ident(cols.item)} AS VARCHAR))")
        params.append(list(opts.exclude_items))
    return where, params


def _value_expr(cols: EventColumns) -> str:
    if not cols.price:
        return "CAST(NULL AS DOUBLE)"
    price = f"CASE WHEN {quote_ident(cols.price)} > 0 THEN {quote_ident(cols.price)} END"
    if cols.quantity:
        return f"{price} * greatest({quote_ident(cols.quantity)}, 1)"
    return price


def _row_position(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """SQL for a row's place in the table's order, the tie-break of equal times: DuckDB's
    ``rowid`` for a stored table; for a view (a job worker's Parquet snapshot, which has no
    ``rowid``) its scan position, ``row_number() OVER ()``: the snapshot was written in the
    table's order and DuckDB keeps insertion order when it reads one file."""
    stored = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND "
                         "schema_name = current_schema()", [table]).fetchone()[0]
    return "rowid" if stored else "row_number() OVER ()"


def _events_sql(cols: EventColumns, opts: SequenceOptions,
                row_pos: str = "rowid") -> tuple[str, list]:
    """SQL creating the kept events (user_id, item, ts, value, name) and its parameters
    (``row_pos``: the table-order expression of :func:`_row_position`)."""
    where, params = _filters(cols, opts)
    name = (f"nullif(trim(CAST({quote_ident(cols.name)} AS VARCHAR)), '')" if cols.name
            else "CAST(NULL AS VARCHAR)")
    sql = f"""
    WITH base AS (
        SELECT CAST({quote_ident(cols.user)} AS VARCHAR) AS user_id, {quote_ident(cols.item)} AS item,
               {quote_ident(cols.time)} AS ts, {_value_expr(cols)} AS value, {name} AS name,
               {row_pos} AS row_pos
        FROM {quote_ident(cols.table)} WHERE {' AND '.join(where)}),
    events AS (
        SELECT user_id, item, ts, sum(value) AS value, min(name) AS name,
               min(row_pos) AS row_pos
        FROM base GROUP BY user_id, item, ts),
    item_ok AS (SELECT item FROM events GROUP BY item HAVING count(*) >= ?),
    user_ok AS (
        SELECT user_id FROM events WHERE item IN (SELECT item FROM item_ok)
        GROUP BY user_id HAVING count(*) >= ?),
    ranked AS (
        SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY ts DESC, row_pos DESC)
                  AS recent
        FROM events
        WHERE item IN (SELECT item FROM item_ok) AND user_id IN (SELECT user_id FROM user_ok))
    SELECT user_id, item, ts, value, name, row_pos FROM ranked WHERE recent <= ?"""
    return sql, [*params, opts.min_item, opts.min_user, opts.max_len]


def build_sequences(
    con: duckdb.DuckDBPyConnection, cols: EventColumns, opts: SequenceOptions | None = None,
) -> Sequences:
    """Build one time-ordered item sequence per user from an event table.

    See the module docstring for the exact steps and the tie-break rule.

    Args:
        con: Open warehouse connection.
        cols: Which columns hold user, item, time and the optional extras.
        opts: Filters, count thresholds and maximum length.

    Returns:
        The :class:`Sequences`.

    Raises:
        SchemaError: Unknown table or column, or no user left after the filters.
    """
    opts = opts or SequenceOptions()
    _check_columns(con, cols)
    sql, params = _events_sql(cols, opts, _row_position(con, cols.table))
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _rec_events AS {sql}", params)
        return _collect(con, cols, opts)
    except duckdb.Error as err:
        raise SchemaError(
            f"The events of '{cols.table}' could not be read: {str(err).splitlines()[0]}. Check "
            f"that the time column is orderable and the quantity and price columns are numbers."
        ) from err
    finally:
        con.execute("DROP TABLE IF EXISTS _rec_events")


def _collect(con: duckdb.DuckDBPyConnection, cols: EventColumns, opts: SequenceOptions) -> Sequences:
    items = con.execute(
        "SELECT item, min(name), avg(value) FROM _rec_events GROUP BY item ORDER BY item"
    ).fetchall()
    if not items:
        raise SchemaError(
            f"No user of '{cols.table}' has {opts.min_user} or more events after the filters "
            f"(items need {opts.min_item}+ events). Lower the minimum interactions, or loosen the "
            f"event-type and item filters."
        )
    flat = con.execute(
        "SELECT e.user_id, CAST(i.idx AS INTEGER) AS idx FROM _rec_events e JOIN "
        "(SELECT item, row_number() OVER (ORDER BY item) AS idx FROM "
        "(SELECT DISTINCT item FROM _rec_events)) i USING (item) "
        "ORDER BY e.user_id, e.ts, e.row_pos"
    ).fetchnumpy()
    user_col = flat["user_id"].astype(str)
    starts = np.flatnonzero(np.r_[True, user_col[1:] != user_col[:-1]])
    users, offsets = user_col[starts], np.r_[starts, len(user_col)].astype(np.int64)
    values = np.array([np.nan] + [np.nan if v is None else float(v) for _, _, v in items])
    rows = con.execute(f"SELECT count(*) FROM {quote_ident(cols.table)}").fetchone()[0]
    where, params = _filters(cols, opts)
    kept = con.execute(f"SELECT count(*) FROM {quote_ident(cols.table)} WHERE "
                       f"{' AND '.join(where)}", params).fetchone()[0]
    pairs = con.execute("SELECT count(*) FROM (SELECT DISTINCT user_id, item FROM _rec_events)"
                        ).fetchone()[0]
    stats = SequenceStats(int(rows), int(kept), int(offsets[-1]), len(users), len(items),
                          float(np.median(np.diff(offsets))), 1.0 - pairs / max(offsets[-1], 1))
    return Sequences(users, offsets, flat["idx"].astype(np.int32),
                     [_plain(label) for label, _, _ in items], [n for _, n, _ in items], values,
                     stats)


def _plain(value):
    """A JSON-ready item label (numpy and date values become int/float/str)."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


# ------------------------------------------------------------------ split and model inputs


@dataclass(frozen=True)
class SequenceSplit:
    """Leave-last-out split of every user's sequence.

    For a user with events s[0..n-1]: training sees s[:-2]; validation asks for s[-2] given
    s[:-2]; test asks for s[-1] given s[:-1].

    Attributes:
        train: Training sequences, one array per user (length >= 1).
        valid_histories: Inputs for validation, one array per user (= ``train``).
        valid_targets: Held-out second-to-last items, shape (n_users,).
        test_histories: Inputs for test, one array per user (s[:-1]).
        test_targets: Held-out last items, shape (n_users,).
    """

    train: list[np.ndarray]
    valid_histories: list[np.ndarray]
    valid_targets: np.ndarray
    test_histories: list[np.ndarray]
    test_targets: np.ndarray


def leave_last_out(seqs: Sequences) -> SequenceSplit:
    """Split each user by time: last item for test, the one before for validation.

    Args:
        seqs: Sequences with at least 3 events per user.

    Returns:
        The :class:`SequenceSplit` (users in ``seqs.users`` order).

    Raises:
        SchemaError: A user has fewer than 3 events.
    """
    all_seqs = seqs.all()
    short = [str(u) for u, s in zip(seqs.users, all_seqs) if len(s) < MIN_EVENTS_PER_USER]
    if short:
        raise SchemaError(
            f"{len(short)} user(s) have fewer than {MIN_EVENTS_PER_USER} events (e.g. {short[0]}); "
            f"leave-last-out needs one to train, one to validate and one to test. Set the minimum "
            f"interactions per user to {MIN_EVENTS_PER_USER} or more."
        )
    train = [s[:-2] for s in all_seqs]
    return SequenceSplit(train, train, np.array([s[-2] for s in all_seqs], dtype=np.int32),
                         [s[:-1] for s in all_seqs], np.array([s[-1] for s in all_seqs],
                                                              dtype=np.int32))


def pad_left(histories: list[np.ndarray], window: int) -> np.ndarray:
    """The last ``window`` items of each history, left-padded with 0.

    Args:
        histories: Item-index arrays, one per user.
        window: Model input length.

    Returns:
        int32 array of shape (n_users, window).

    Example:
        >>> pad_left([np.array([4, 5, 6])], 5).tolist()
        [[0, 0, 4, 5, 6]]
    """
    out = np.zeros((len(histories), window), dtype=np.int32)
    for row, h in enumerate(histories):
        tail = h[-window:]
        if len(tail):
            out[row, window - len(tail):] = tail
    return out


def training_windows(train: list[np.ndarray], window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequence-to-sequence training pairs: inputs s[:-1], targets s[1:], cut into windows.

    Each sequence is cut from its end into non-overlapping windows of ``window`` steps, so a long
    history yields several training rows and the most recent steps are never cut short. Every
    position predicts the item that followed it (Hidasi et al., 2016; Kang & McAuley, 2018).

    Args:
        train: Training sequences, one item-index array per user.
        window: Model input length.

    Returns:
        ``(x, y)``, int32 arrays of shape (n_windows, window); 0 is padding in both.
    """
    xs, ys = [], []
    for s in train:
        x, y = s[:-1], s[1:]
        for end in range(len(y), 0, -window):
            start = max(0, end - window)
            xs.append(x[start:end])
            ys.append(y[start:end])
    if not xs:
        raise SchemaError(
            "No user has two training events, so there is nothing to learn from. Raise the "
            "minimum interactions per user, or use a table with longer histories."
        )
    return pad_left(xs, window), pad_left(ys, window)
