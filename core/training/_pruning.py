"""Pruning of tuning trials: Optuna's median rule on the validation loss of each epoch.

A trial of a Keras network reports its validation loss after every epoch; Optuna's
``MedianPruner`` (the median stopping rule of Google Vizier, Golovin et al., KDD 2017) stops it
when that loss is worse than the median of the finished trials' losses at the same epoch. The
rule lives in its own Optuna study (:class:`EpochPruner`, direction *minimize* on the loss), so
the search's study keeps the analyst's objective (e.g. maximise ROC-AUC) and learns from finished
trials only. The same pruner serves both searches: the one-process study calls it from its
epoch events, and the parallel search's Ray Tune scheduler (:func:`ray_scheduler`) calls it from
each trial's per-epoch results. Scikit-learn baselines report no epochs and are never pruned.
"""

from __future__ import annotations

from collections.abc import Callable

N_STARTUP_TRIALS = 3
"""Trials that finish unpruned before the rule prunes any (Optuna's default is 5; searches here
are often 10 trials)."""
N_WARMUP_STEPS = 2
"""Epochs a trial always runs before its loss is compared (the first epochs are noisy)."""
FINAL = "final"
"""Key of a Ray Tune result: 1 for a trial's final report, 0 for a per-epoch one."""


def pruner_note() -> str:
    """What the pruner does, in words, for the run's tuning record."""
    return (f"Optuna MedianPruner on the validation loss per epoch (after {N_STARTUP_TRIALS} "
            f"finished trials, from epoch {N_WARMUP_STEPS + 1})")


class EpochPruner:
    """Optuna's ``MedianPruner`` over per-epoch validation losses, in a study of its own.

    Args:
        n_startup_trials: Finished trials before any is pruned.
        n_warmup_steps: Epochs each trial runs before it can be pruned.
    """

    def __init__(self, n_startup_trials: int = N_STARTUP_TRIALS,
                 n_warmup_steps: int = N_WARMUP_STEPS) -> None:
        import optuna

        self._study = optuna.create_study(
            direction="minimize",
            pruner=optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials,
                                               n_warmup_steps=n_warmup_steps))
        self._trials: dict = {}
        self._last: dict = {}

    def epoch(self, key, epoch: int, val_loss: float) -> bool:
        """Record trial ``key``'s validation loss after ``epoch`` (1-based); True: prune it.

        A non-finite loss is not recorded (it is never "better than the median").
        """
        import math

        trial = self._trials.get(key)
        if trial is None:
            trial = self._trials[key] = self._study.ask()
        if not math.isfinite(val_loss):
            return False
        trial.report(float(val_loss), int(epoch) - 1)  # Optuna's steps count from 0
        self._last[key] = float(val_loss)
        return bool(trial.should_prune())

    def finish(self, key, pruned: bool) -> None:
        """Close trial ``key``: pruned, or finished with its last validation loss (a trial
        that reported no epoch, e.g. a baseline, is not counted)."""
        import optuna

        trial = self._trials.pop(key, None)
        last = self._last.pop(key, None)
        if trial is None:
            return
        if pruned or last is None:
            self._study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self._study.tell(trial, last)


def epoch_hook(pruner: EpochPruner, key, on_prune: Callable[[int, float], None],
               progress: Callable[[dict], None] | None = None) -> Callable[[dict], None]:
    """A progress callback for :func:`core.training._ensemble.fit_model` that feeds each
    epoch's ``val_loss`` to ``pruner`` and calls ``on_prune(epoch, val_loss)`` once it says
    prune; events are passed on to ``progress``."""
    state = {"pruned": False}

    def hook(event: dict) -> None:
        if progress is not None:
            progress(event)
        if event.get("stage") != "epoch" or state["pruned"]:
            return
        loss = (event.get("logs") or {}).get("val_loss")
        if loss is not None and pruner.epoch(key, event["epoch"], loss):
            state["pruned"] = True
            on_prune(int(event["epoch"]), float(loss))

    return hook


def ray_scheduler(pruner: EpochPruner, on_trial_end: Callable[[dict], None],
                  on_epoch: Callable[[str, int], None] | None = None):
    """A Ray Tune trial scheduler that asks ``pruner`` after each per-epoch result.

    Trials report ``{FINAL: 0, "val_loss", "epoch"}`` after each epoch and ``{FINAL: 1, …}``
    once; the scheduler stops a trial the pruner prunes (``TrialScheduler.STOP``) and calls
    ``on_trial_end({"pruned": bool, "epoch": int, "result": dict})`` when any trial ends, so
    the search can report progress per trial while Ray Tune runs; ``on_epoch(trial_id,
    epoch)`` hears every per-epoch result.

    Returns:
        A ``ray.tune.schedulers.FIFOScheduler`` subclass instance.
    """
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler

    class _MedianPruning(FIFOScheduler):
        def on_trial_result(self, tune_controller, trial, result: dict) -> str:
            if result.get(FINAL) or "val_loss" not in result:
                return TrialScheduler.CONTINUE
            if on_epoch is not None:
                on_epoch(trial.trial_id, int(result["epoch"]))
            if pruner.epoch(trial.trial_id, result["epoch"], result["val_loss"]):
                return TrialScheduler.STOP
            return TrialScheduler.CONTINUE

        def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
            pruned = bool(result) and not result.get(FINAL)
            pruner.finish(trial.trial_id, pruned)
            on_trial_end({"pruned": pruned, "epoch": int((result or {}).get("epoch", 0)),
                          "result": dict(result or {})})

        def on_trial_error(self, tune_controller, trial) -> None:
            pruner.finish(trial.trial_id, True)

    return _MedianPruning()
