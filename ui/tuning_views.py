"""The tuning record of a run (Optuna trials, finished and pruned) on the Train page, and the
bar of a training job that has no epochs to count (a search's trials, a scikit-learn fit)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from ui.widgets import fraction

PRUNED_LOSS = "validation loss when pruned"


def trials_frame(tuning: dict) -> pd.DataFrame:
    """One row per trial: ``trial`` (Optuna's number), ``state`` (``best``, ``finished`` or
    ``pruned at epoch k``), the validation score (NaN when pruned), the validation loss the
    pruner stopped it on (:data:`PRUNED_LOSS`, NaN when it finished; only when a trial was
    pruned) and the sampled settings.

    Args:
        tuning: A run's ``tuning`` record (:func:`core.training.tune`).
    """
    score = tuning.get("objective", "validation score")
    best = tuning.get("best_params")
    pruned = tuning.get("pruned", [])
    extra = {PRUNED_LOSS: float("nan")} if pruned else {}
    rows = [{"trial": t["number"], "state": "best" if t["params"] == best else "finished",
             score: t["value"], **extra, **t["params"]} for t in tuning.get("trials", [])]
    rows += [{"trial": p["number"], "state": f"pruned at epoch {p.get('epoch')}",
              score: float("nan"),
              PRUNED_LOSS: float("nan") if p.get("val_loss") is None else p["val_loss"],
              **p["params"]} for p in pruned]
    return pd.DataFrame(rows).sort_values("trial").reset_index(drop=True) if rows \
        else pd.DataFrame()


def trials_table(tuning: dict) -> Styler:
    """:func:`trials_frame` for display: scores and losses to 4 decimals, "—" where a trial
    has none (st.dataframe showed "None" for a pruned trial's score)."""
    frame = trials_frame(tuning)
    shown = [c for c in (tuning.get("objective", "validation score"), PRUNED_LOSS)
             if c in frame]
    return frame.style.format({c: "{:.4f}" for c in shown}, na_rep="—")


def tuning_summary(tuning: dict) -> None:
    """An expander with the search's trials, how many were pruned, and by what rule."""
    trials, pruned = tuning.get("trials", []), tuning.get("pruned", [])
    score = tuning.get("objective", "validation score")
    values = [t["value"] for t in trials]
    best = (max(values) if tuning.get("direction") == "maximize" else min(values)) \
        if values else None
    head = (f"Tuning: {len(trials)} trials finished, {len(pruned)} pruned"
            + (f" · best {score} {best:.4f}" if best is not None else ""))
    with st.expander(head, icon=":material/tune:"):
        where = (f"{tuning['parallel']} trials at a time on Ray Tune"
                 if tuning.get("parallel", 1) > 1 else "one trial at a time")
        st.caption(f"Optuna's TPE sampler, {where}, {tuning.get('seconds', 0):.0f} s. "
                   + (f"Pruning: {tuning['pruner']}. " if tuning.get("pruner") else "")
                   + "The run was trained again with the best trial's settings.")
        st.dataframe(trials_table(tuning), hide_index=True)


def job_bar(job) -> tuple[float, str]:
    """The progress bar of a queued or running :class:`core.app.JobState` without epochs or
    steps: a search's trials as reported (``"Tuning: trial 3/8 …"`` → 0.375), a scikit-learn
    fit (no progress until it ends: half a bar, said so), else what the worker last said."""
    if job.state == "queued":
        return 0.0, "Waiting for the worker"
    share = fraction(job.message)
    if share:
        return share, job.message
    if (job.params.get("model_config") or {}).get("model") in ("logreg", "hgb"):
        return 0.5, "Fitting (scikit-learn reports no progress until it finishes)"
    return 0.5, f"{job.message} (no measured progress yet)"
