"""Train page: the leaderboard. One click trains every chosen family on the same split (and
folds) as a background job on Ray; the table ranks them with intervals and says which are tied with
the best (paired bootstrap)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.app import leaderboard_job
from core.leaderboard import list_leaderboards
from core.plots import LEGEND_BELOW, MODEL_COLOR, RANDOM_COLOR, styled
from core.specs import MODEL_LABELS, MODELS, DatasetSpec
from ui import resources, state
from ui.widgets import initial

METRIC_LABELS = {"roc_auc": "ROC-AUC", "accuracy": "Accuracy", "rmse": "RMSE"}


def _start(data_dir: str, spec: DatasetSpec, models: tuple[str, ...], cv: int,
           epochs: int) -> None:
    """Queue the leaderboard as a job on Ray (:func:`core.app.leaderboard_job`): a worker
    trains and ranks every family from a snapshot of the table; the server then registers
    every family's run and saves the leaderboard in one transaction. The Train page follows
    it (a step per family, Cancel) like a training job."""
    kwargs = leaderboard_job(resources.settings(), spec, models, cv, 1000, epochs)
    state.set_active_job(resources.job_manager(data_dir).submit(**kwargs))


def restore_board(params: dict) -> None:
    """Put a running leaderboard job's families, folds and epochs
    (:func:`core.app.leaderboard_job`'s ``params``) into the leaderboard's widgets."""
    values = {"train__board_models": list(params["models"]),
              "train__board_cv": int(params.get("cv", 0))}
    if params.get("epochs"):
        values["train__board_epochs"] = int(params["epochs"])
    st.session_state.update(values)


def leaderboard_section(data_dir: str, spec: DatasetSpec) -> None:
    """The leaderboard's settings, its button, and the newest leaderboard of this target."""
    with st.expander("Compare every model family (leaderboard)", icon=":material/leaderboard:"):
        st.caption("Trains each family with its defaults on the same split, features and seed "
                   "(and the same cross-validation folds), then ranks them on the shared test "
                   "rows with 95% intervals. A paired bootstrap says which differences from the "
                   "best are real: a 'tied' family cannot be told apart from it on this test "
                   "split. Every family's run is saved, so Evaluate can open each one.")
        c1, c2, c3 = st.columns([3, 1, 1])
        models = c1.multiselect("Families", MODELS,
                                default=initial("train__board_models", list(MODELS)),
                                format_func=MODEL_LABELS.get, key="train__board_models")
        cv = int(c2.number_input("CV folds (0 = no)", 0, 10, initial("train__board_cv", 0, "min"),
                                 key="train__board_cv"))
        epochs = int(c3.number_input("Epochs (networks)", 1, 500,
                                     initial("train__board_epochs", 30, "min"),
                                     key="train__board_epochs"))
        running = resources.job_manager(data_dir).active("leaderboard")
        if st.button("Train and compare", key="train__board_go",
                     disabled=len(models) < 2 or running is not None,
                     help="Pick at least two families." if len(models) < 2 else None):
            _start(data_dir, spec, tuple(models), cv, epochs)
            st.rerun()
        if running is not None:  # the job is drawn below this expander, out of sight
            st.caption(f":material/directions_run: **{running.label}** is running: "
                       f"[jump to its progress and Cancel](#training-job).")
        show_latest(data_dir, spec.table, spec.target)


def show_latest(data_dir: str, table: str, target: str) -> None:
    """The newest saved leaderboard of this table and target, if any."""
    boards = [b for b in list_leaderboards(resources.settings())
              if b.table == table and b.target == target]
    if not boards:
        return
    board = boards[0]
    name = METRIC_LABELS.get(board.metric, board.metric)
    tied = ", ".join(MODEL_LABELS.get(m, m) for m in board.tied_with_best)
    st.markdown(f"**Best: {MODEL_LABELS.get(board.best, board.best)}** by test {name} "
                f"({board.test_rows:,} shared test rows, {board.created_at}). "
                + (f"Tied with it (the paired difference's 95% interval contains 0): {tied}."
                   if tied else "Every other family is clearly behind it."))
    for note in board.notes:  # e.g. a family that could not be trained: never left unsaid
        st.warning(note, icon=":material/warning:")
    rows = [{"rank": m["rank"], "model": MODEL_LABELS.get(m["model"], m["model"]),
             name: m[board.metric], "95% low": (m["ci95"] or [None, None])[0],
             "95% high": (m["ci95"] or [None, None])[1],
             "vs best": m["difference_vs_best"],
             "vs best 95%": "" if not m["difference_ci95"] else
             f"{m['difference_ci95'][0]:+.4f} to {m['difference_ci95'][1]:+.4f}",
             "tied with best": "yes" if m["tied_with_best"] else ("best" if m["rank"] == 1
                                                                  else "no"),
             "CV mean ± std": "" if not m["cv"] else
             f"{m['cv']['mean']:.4f} ± {m['cv']['std'] or 0:.4f} ({m['cv']['k']} folds)",
             "run": m["run_id"], "seconds": m["seconds"],
             "epochs": m.get("epochs") or ""} for m in board.models]  # "": none (or older)
    left, right = st.columns([3, 2])
    left.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="%.4f") for c in (name, "95% low", "95% high",
                                                                  "vs best")})
    right.plotly_chart(_figure(board, name), key="train__board_chart")


def _figure(board, name: str) -> go.Figure:
    ms = board.models[::-1]
    colors = [MODEL_COLOR if m["rank"] == 1 or m["tied_with_best"] else RANDOM_COLOR for m in ms]
    fig = go.Figure(go.Scatter(
        x=[m[board.metric] for m in ms], y=[MODEL_LABELS.get(m["model"], m["model"]) for m in ms],
        mode="markers", marker={"size": 11, "color": colors},
        error_x={"type": "data", "symmetric": False,
                 "array": [(m["ci95"] or [0, 0])[1] - m[board.metric] for m in ms],
                 "arrayminus": [m[board.metric] - (m["ci95"] or [0, 0])[0] for m in ms]},
        name=name))
    fig = styled(fig, f"Test {name} with 95% intervals (blue: best and tied)", name, "",
                 height=max(260, 60 * len(ms) + 100))
    fig.update_layout(showlegend=False, legend=LEGEND_BELOW)
    return fig
