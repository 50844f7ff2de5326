"""Streamlit glue of the Recommend page: event-table setup, the training job, quality, users and
items, business value.

This page's session keys live here (prefix ``recommend__``) and hold run and job ids only.
:func:`value_section` is self-contained, so the Impact page can show the same scenario for a
next-item run.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from core.app import recommend_job
from core.config import load_settings
from core.errors import AppError
from core.recommend import (
    NEURAL,
    REC_MODEL_LABELS,
    SAMPLED_ABOVE,
    STRATEGY_LABELS,
    EventColumns,
    NetOptions,
    RecModelConfig,
    RecRun,
    SequenceOptions,
    ValueInputs,
    build_sequences,
    comparison_figure,
    distinct_values,
    list_rec_runs,
    load_rec_run,
    metrics_table,
    rank_curve_figure,
    similar_items,
    simulate_run_value,
    suggest_columns,
    suggest_excluded_items,
    training_figure,
    user_report,
    value_figure,
    value_table,
    value_verdict,
)
from core.specs import Economics
from core.warehouse import connect, list_tables, table_columns
from ui import resources
from ui.widgets import JOB_POLL_S, errors_shown, show_error

ACTIVE_RUN = "recommend__active_run"
ACTIVE_JOB = "recommend__active_job"
RUN_PICKER = "recommend__run"
MODEL_ORDER = ("sasrec", "gru4rec", "transitions", "popular")
REQUIRED_ROLES = (("user", "User column", "Who acted: a customer or user id."),
                  ("item", "Item column", "What they took: a product, film or page id."),
                  ("time", "Time column", ("When; events at the same time keep the table's "
                                           "row order.")))
OPTIONAL_ROLES = (("event", "Event type (optional)"), ("quantity", "Quantity (optional)"),
                  ("price", "Unit price (optional)"), ("order", "Order / invoice id (optional)"),
                  ("name", "Item name (optional)"))
REPEATS_NORMAL = 0.05  # repeat share above which seen items stay recommendable by default
# CPU-friendly page defaults, measured on the shipped Online Retail sample (SASRec, full
# softmax, 2 shared cores): a higher learning rate reaches in about 10 epochs what 1e-3 needs
# 40 for, and validation NDCG@10 barely moves after that
PAGE_EPOCHS, PAGE_PATIENCE, PAGE_LR = 15, 3, 3e-3
SOFTMAX_CHOICES = ("auto", "sampled", "full")
SOFTMAX_LABELS = {"auto": f"auto (sampled above {SAMPLED_ABOVE:,} items)",
                  "sampled": "sampled softmax (faster)", "full": "full softmax (exact)"}


# ------------------------------------------------------------------ state and caches


def active_run() -> str | None:
    """The next-item run shown in the Quality, Users & items and Value tabs."""
    return st.session_state.get(ACTIVE_RUN)


def set_active_run(run_id: str | None) -> None:
    """Show another next-item run."""
    st.session_state[ACTIVE_RUN] = run_id


def active_job() -> str | None:
    """The recommender training job this session follows."""
    return st.session_state.get(ACTIVE_JOB)


@st.cache_resource(max_entries=4)
def rec_run(data_dir: str, run_id: str) -> RecRun:
    """A saved next-item run (network loaded lazily, once)."""
    return load_rec_run(load_settings(data_dir), run_id)


@st.cache_data(max_entries=16, ttl=600, show_spinner="Building sequences …")
def sequence_stats(data_dir: str, cols: EventColumns, opts: SequenceOptions):
    """What the filters keep (a :class:`core.recommend.SequenceStats`)."""
    with connect(load_settings(data_dir)) as con:
        return build_sequences(con, cols, opts).stats


# ------------------------------------------------------------------ 1. sequences and training


def _pick(label: str, options: list, default, key: str, **kwargs):
    index = options.index(default) if default in options else 0
    return st.selectbox(label, options, index=index, key=key, **kwargs)


def event_setup(data_dir: str) -> tuple[EventColumns, SequenceOptions] | None:
    """Table, column roles and filters; None (with a pointer) when there is no table."""
    settings = resources.settings()
    with errors_shown(), connect(settings) as con:
        tables = [t.table for t in list_tables(con)]
    if not tables:
        st.info("Load an event table (one row per purchase, view or rating) on the **Data** "
                "page first.")
        return None
    table = _pick("Event table", tables, "online_retail", "recommend__table")
    with errors_shown(), connect(settings) as con:
        columns = table_columns(con, table)
    names = [c for c, _ in columns]
    guess = suggest_columns(columns)
    roles = {}
    for (role, label, text), col in zip(REQUIRED_ROLES, st.columns(len(REQUIRED_ROLES))):
        with col:
            roles[role] = _pick(label, names, guess[role], f"recommend__{role}_{table}", help=text)
    for (role, label), col in zip(OPTIONAL_ROLES, st.columns(len(OPTIONAL_ROLES))):
        with col:
            roles[role] = _pick(label, [None, *names], guess[role], f"recommend__{role}_{table}",
                                format_func=lambda v: "—" if v is None else v)
    cols = EventColumns(table, **roles)
    with st.expander("Filters", expanded=False), errors_shown():
        opts = _filters(settings, cols)
    return cols, opts


def _filters(settings, cols: EventColumns) -> SequenceOptions:
    key = f"recommend__{cols.table}"
    with connect(settings) as con:
        types = distinct_values(con, cols.table, cols.event) if cols.event else []
        excluded = suggest_excluded_items(con, cols.table, cols.item)
    keep = st.multiselect("Event types to keep (none = all)", types, key=f"{key}_types",
                          disabled=not types)
    drop = st.checkbox("Drop cancellations (quantity ≤ 0, or order ids starting with C)", True,
                       key=f"{key}_cancel", disabled=not (cols.quantity or cols.order))
    text = st.text_input("Items to leave out (comma-separated, e.g. postage and fees)",
                         ", ".join(excluded), key=f"{key}_exclude")
    c1, c2, c3 = st.columns(3)
    min_user = c1.number_input("Min. events per user", 3, 10_000, 5, key=f"{key}_min_user")
    min_item = c2.number_input("Min. events per item", 1, 10_000, 5, key=f"{key}_min_item")
    max_len = c3.number_input("Most recent events kept per user", 3, 100_000, 200,
                              key=f"{key}_max_len")
    items = tuple(v.strip() for v in text.split(",") if v.strip())
    return SequenceOptions(tuple(keep), drop, items, int(min_item), int(min_user), int(max_len))


def sequence_preview(data_dir: str, cols: EventColumns, opts: SequenceOptions) -> SequenceOptions:
    """Show what the filters keep and ask whether seen items may be recommended.

    Returns:
        ``opts`` with ``exclude_seen`` set from the analyst's choice.
    """
    with errors_shown():
        stats = sequence_stats(data_dir, cols, opts)
    c = st.columns(5)
    c[0].metric("Users", f"{stats.users:,}")
    c[1].metric("Items", f"{stats.items:,}")
    c[2].metric("Events", f"{stats.events:,}")
    c[3].metric("Median events per user", f"{stats.median_length:,.0f}")
    c[4].metric("Repeat events", f"{stats.repeat_share:.0%}",
                help="Share of events whose item the user already had.")
    st.caption(f"{stats.rows_kept:,} of {stats.rows:,} rows pass the filters. Each user's last "
               f"item is held out for test, the one before for validation.")
    allow = st.checkbox("Recommend items the customer already has (repeat purchases)",
                        stats.repeat_share >= REPEATS_NORMAL,
                        key=f"recommend__allow_seen_{cols.table}",
                        help="Right for retail, where people buy the same things again; wrong "
                             "for films, where a watched film is not worth recommending.")
    return dataclasses.replace(opts, exclude_seen=not allow)


def _net_controls(model: str) -> tuple[int, int, int, float, NetOptions]:
    """The settings of a neural model, only those that apply to it (inside the form)."""
    c = st.columns(3)
    epochs = c[0].number_input("Epochs (max)", 1, 1000, PAGE_EPOCHS, key="recommend__epochs",
                               help="Training stops earlier when validation NDCG@10 has not "
                                    "improved for the patience set here.")
    patience = c[1].number_input("Patience (epochs)", 1, 100, PAGE_PATIENCE,
                                 key="recommend__patience",
                                 help="Epochs without a better validation NDCG@10 before "
                                      "training stops and keeps the best epoch.")
    lr = c[2].number_input("Learning rate", 1e-5, 1.0, PAGE_LR, format="%.4f",
                           key="recommend__lr")
    c = st.columns(3)
    dim = c[0].number_input("Embedding size", 8, 1024, 64, 8, key="recommend__dim")
    window = c[1].number_input("Items read (window)", 2, 1000, 50, key="recommend__window")
    if model == "gru4rec":
        arch = {"cell": c[2].selectbox("Recurrent cell", ("gru", "lstm"), key="recommend__cell")}
    else:
        arch = {"blocks": int(c[2].number_input("Self-attention blocks", 1, 8, 2,
                                                key="recommend__blocks"))}
    with st.expander("Output layer (speed)", expanded=False):
        s = st.columns(2)
        softmax = s[0].selectbox(
            "Output layer", SOFTMAX_CHOICES, format_func=SOFTMAX_LABELS.get,
            key="recommend__softmax",
            help="The full softmax scores every item at every step; the sampled softmax scores "
                 "the true next item against a shared uniform sample: about twice as fast per "
                 "epoch on a CPU, but it needs more epochs for the same quality on a catalogue "
                 "of a few thousand items.")
        negatives = s[1].number_input("Sampled negatives per batch", 10, 100_000,
                                      NetOptions.negatives, 100,
                                      key="recommend__negatives", disabled=softmax == "full")
    net = NetOptions(softmax=softmax, negatives=int(negatives),
                                  patience=int(patience), **arch)
    return int(epochs), int(dim), int(window), float(lr), net


def train_form(data_dir: str, cols: EventColumns, opts: SequenceOptions) -> None:
    """Model choice, the settings that apply to it and the Train button; training runs as a
    background job."""
    model = st.selectbox("Model", MODEL_ORDER, format_func=REC_MODEL_LABELS.get,
                         key="recommend__model")
    with st.form("recommend__form"):
        if model in NEURAL:
            chosen = _net_controls(model)
        else:
            st.caption("A baseline counts the training sequences in a few seconds; it has "
                       "nothing to tune.")
            chosen = None
        submitted = st.form_submit_button("Train", type="primary")
    if not submitted:
        return
    try:
        if chosen is None:
            cfg = RecModelConfig(model)
        else:
            epochs, dim, window, lr, net = chosen
            cfg = RecModelConfig(model, epochs, dim, window, learning_rate=lr,
                                              net=net)
    except AppError as err:
        show_error(err)
        return
    job_id = resources.job_manager(data_dir).submit(
        **recommend_job(resources.settings(), cols, opts, cfg))
    st.session_state[ACTIVE_JOB] = job_id


_STATUS = {"queued": "running", "running": "running", "done": "complete"}


def _job_view(data_dir: str) -> bool:
    """Draw the followed job; True while it is queued or running."""
    jobs = resources.job_manager(data_dir)
    job = jobs.get(active_job())
    if job is None:
        return False
    running = job.state in ("queued", "running")
    with st.status(f"{job.label}: {job.message}", state=_STATUS.get(job.state, "error"),
                   expanded=running or bool(job.history)):
        if running and job.epochs:
            st.progress(min(job.epoch / job.epochs, 1.0),
                        text=f"{job.epoch} of at most {job.epochs} epochs "
                             f"(stops early when validation NDCG@10 stalls)")
        if running and job.history:  # text while it runs: a chart redrawn each poll slows it
            best = max(job.history, key=lambda h: h.get("val_ndcg@10", 0.0))
            st.caption(f"Best so far: validation HitRate@10 {best['val_hit_rate@10']:.3f} "
                       f"(epoch {job.history.index(best) + 1}); the curves follow when it ends.")
        elif job.history:
            st.plotly_chart(training_figure(job.history), key=f"recommend__job_{job.epoch}")
    if running and not job.stop_request:
        left, right = st.columns(2)
        if job.can_keep and job.state == "running" and job.epoch >= 1 and left.button(
                "Stop and keep the best so far", key="recommend__keep", icon=":material/save:",
                help="Ends training now and saves the run with the weights of the epoch with "
                     "the best validation NDCG@10, evaluated like any run."):
            jobs.stop_and_keep(job.job_id)
        if right.button("Cancel training", key="recommend__cancel", icon=":material/cancel:",
                        help="Ends training and saves nothing."):
            jobs.cancel(job.job_id)
    if job.state == "done" and job.run_id and active_run() != job.run_id:
        set_active_run(job.run_id)
        st.session_state.pop(RUN_PICKER, None)
    if job.state == "done":
        st.success(f"Saved run {job.run_id}: see the Quality tab.")
        for note in resources.run_metrics_notes(data_dir, job.run_id):
            st.info(note)
    return running


@st.fragment(run_every=JOB_POLL_S)
def _poll_job(data_dir: str) -> None:
    if not _job_view(data_dir):
        st.rerun()  # finished: one full rerun shows the new run in every tab


def show_job(data_dir: str) -> None:
    """Follow the session's recommender job (refreshed every 2 s while it runs)."""
    job = resources.job_manager(data_dir).get(active_job())
    if job is not None and job.state in ("queued", "running"):
        _poll_job(data_dir)
    else:
        _job_view(data_dir)


# ------------------------------------------------------------------ 2–4. the chosen run


def pick_run(data_dir: str) -> RecRun | None:
    """The next-item run to show (the newest, or the one just trained)."""
    runs = list_rec_runs(resources.runs(data_dir))
    if not runs:
        st.info("No recommender run yet: train one in the first tab.")
        return None
    ids = [r["run_id"] for r in runs]
    labels = {r["run_id"]: f"{r['run_id']} · {r['model']} · {r['table']} · HitRate@10 "
                           f"{r['metrics'].get('hit_rate@10', 0):.3f}" for r in runs}
    chosen = _pick("Recommender run", ids, active_run(), RUN_PICKER, format_func=labels.get)
    set_active_run(chosen)
    with errors_shown():
        return rec_run(data_dir, chosen)


def _label(name: str) -> str:
    return STRATEGY_LABELS.get(name, name)


def results_section(run: RecRun) -> None:
    """Model against both baselines: a plain verdict against the stronger baseline, headline
    numbers, table, figures, protocol."""
    m = run.metrics["metrics"]
    best = run.best_baseline()
    base = run.metrics["baselines"][best]["metrics"]
    gap = m["hit_rate@10"] - base["hit_rate@10"]
    if gap < 0:
        st.warning(f"The {_label(best)} baseline beats {run.model_name}: HitRate@10 "
                   f"{base['hit_rate@10']:.3f} against {m['hit_rate@10']:.3f} "
                   f"({gap:+.3f}). Show the baseline's lists, or improve the model and "
                   f"compare again.")
    c = st.columns(4)
    c[0].metric("HitRate@10", f"{m['hit_rate@10']:.3f}",
                delta=f"{gap:+.3f} vs {_label(best)}")
    c[1].metric("NDCG@10", f"{m['ndcg@10']:.3f}",
                delta=f"{m['ndcg@10'] - base['ndcg@10']:+.3f} vs {_label(best)}")
    c[2].metric("MRR", f"{m['mrr']:.3f}")
    c[3].metric("Catalogue coverage @10", f"{m['coverage@10']:.0%}")
    st.dataframe(metrics_table(run.metrics, run.model_name), key="recommend__metrics")
    left, right = st.columns(2)
    left.plotly_chart(comparison_figure(run.metrics, run.model_name), key="recommend__hr")
    right.plotly_chart(rank_curve_figure(run.ranks, run.model_name), key="recommend__ranks")
    if run.history:
        st.plotly_chart(training_figure(run.history), key="recommend__history")
    st.caption(f"{run.metrics['users']:,} test users, {run.sequences.n_items:,} items. "
               f"Protocol: {run.metrics['protocol']}.")


def explore_section(run: RecRun) -> None:
    """One user's history, recommendations and the rank of the truth; one item's neighbours."""
    users = [str(u) for u in run.sequences.users]
    c1, c2 = st.columns([3, 1])
    user = c1.selectbox("User", users, key="recommend__user_pick")
    k = c2.slider("List length K", 5, 50, 10, key="recommend__k")
    with errors_shown():
        rep = user_report(run, user, k)
    truth = f"`{rep.true_item['item']}`" + (f" {_plain_md(rep.true_item['name'])}"
                                            if rep.true_item["name"] else "")
    st.markdown(f"Held-out next item: {truth} — ranked **{_rank(rep.rank)}** by "
                f"{run.model_name} (item-to-item: {_rank(rep.baseline_ranks['transitions'])}, "
                f"most popular: {_rank(rep.baseline_ranks['popular'])}).")
    left, right = st.columns(2)
    left.caption("History, most recent first (1 = the item just before the held-out one)")
    left.dataframe(rep.history.set_axis(range(1, len(rep.history) + 1)),
                   key="recommend__history_table")
    right.caption(f"Top {k} after that history (1 = first in the list)")
    recs = rep.recommendations
    right.dataframe(recs.assign(next=recs["item"].astype(str) == str(rep.true_item["item"]))
                    .set_axis(range(1, len(recs) + 1)), key="recommend__recs")
    labels = run.sequences.item_labels
    names = dict(zip(map(str, labels), run.sequences.item_names))
    item = st.selectbox("Item", [str(x) for x in labels], key="recommend__item_pick",
                        format_func=lambda v: f"{v} · {names[v]}" if names.get(v) else v)
    how = "embedding cosine similarity" if run.network is not None else "items that followed it"
    st.caption(f"Nearest items ({how})")
    with errors_shown():
        st.dataframe(similar_items(run, item), key="recommend__similar")


def _plain_md(text: str) -> str:
    """Data text shown literally inside Markdown (no stray bold, links or code)."""
    return "".join(f"\\{c}" if c in "\\`*_{}[]()#+-.!|<>~$" else c for c in str(text))


def _rank(rank: float) -> str:
    """A 1-based rank as a whole number (the expected position among tied items, rounded)."""
    if rank == float("inf"):
        return "not recommendable (already seen)"
    return f"#{int(rank + 0.5):,}"


def value_section(run: RecRun, key: str = "recommend__value") -> None:
    """Conversions and revenue of the run's top-K lists against each baseline's, judged
    against the best baseline (the one to beat), never only against the weakest."""
    c = st.columns(5)
    ctr = c[0].number_input("Click-through rate of a wanted item", 0.001, 1.0, 0.3, 0.01,
                            key=f"{key}_ctr", help="Chance that a shown recommendation the "
                                                   "customer wants is clicked.")
    cvr = c[1].number_input("Conversion rate per click", 0.001, 1.0, 0.1, 0.01,
                            key=f"{key}_cvr")
    users = c[2].number_input("Customers", 1, 100_000_000, 10_000, 1000, key=f"{key}_users")
    shown = c[3].number_input("Lists shown per customer", 1, 10_000, 4, key=f"{key}_imp")
    k = c[4].slider("Items per list (K)", 1, 20, 10, key=f"{key}_k")
    has_prices = bool(run.config.spec_fields.get("price"))
    source = st.radio("Value of a conversion", ("item prices from the data",
                                                 "average order value"),
                      index=0 if has_prices else 1, horizontal=True, key=f"{key}_source")
    aov = None
    if source == "average order value":
        aov = st.number_input("Average order value", 0.01, 1e9, 25.0, key=f"{key}_aov")
    try:
        inputs = ValueInputs(ctr, cvr, int(users), int(shown), int(k),
                             None if aov is None else Economics(0.0, float(aov)))
        r = simulate_run_value(run, inputs, n_boot=300)
    except AppError as err:
        show_error(err)
        return
    model, best = run.model_name, r.best_baseline
    kind, text = value_verdict(r, model)
    {"worse": st.warning, "better": st.success}.get(kind, st.info)(text)
    cols = st.columns(3)
    cols[0].metric(f"Revenue ({model})", f"{r.revenue['personalised']:,.0f}",
                   delta=f"{r.incremental_revenue[best]:+,.0f} vs {_label(best)}")
    cols[1].metric(f"Revenue (best baseline: {_label(best)})", f"{r.revenue[best]:,.0f}")
    cols[2].metric(f"Conversions ({model})", f"{r.conversions['personalised']:,.0f}",
                   delta=f"{r.incremental_conversions[best]:+,.0f} vs {_label(best)}")
    st.dataframe(value_table(r, model), key=f"{key}_table")
    st.caption(f"{int(users) * int(shown):,} lists of {k}. Values from {r.value_source}; "
               f"intervals resample the test users, whose held-out next item stands for what "
               f"each customer wants.")
    st.plotly_chart(value_figure(r, model), key=f"{key}_figure")
