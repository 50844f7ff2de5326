"""How a run in progress is asked to end early: cancel (save nothing) or stop and keep the best
so far (save the run trained up to here, with a note).

Trainers receive ``should_stop``, a plain callable polled every batch. A :class:`StopSignal` is
such a callable that also says which of the two was asked; any other callable means cancel.
"""

from __future__ import annotations

import threading


class StopSignal:
    """A thread-safe stop request: ``signal()`` is True once :meth:`cancel` or :meth:`keep_best`
    was called.

    Attributes:
        keep: True when the request was "stop and keep the best so far".
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.keep = False

    def __call__(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        """Stop and save nothing (overrides an earlier :meth:`keep_best`)."""
        self.keep = False
        self._event.set()

    def keep_best(self) -> None:
        """Stop at the next batch and save the run with the best weights so far."""
        if not self._event.is_set():
            self.keep = True
        self._event.set()


def keep_requested(should_stop) -> bool:
    """Whether ``should_stop`` asked to stop *and keep* the best so far (False for a plain
    callable, or when no stop was asked)."""
    return bool(should_stop is not None and should_stop() and getattr(should_stop, "keep", False))


def stopped_note(history: list[dict], epochs: int, monitor: str = "val_loss",
                 higher_is_better: bool = False, restored: bool = True) -> str:
    """The run note of a training stopped by the analyst.

    Args:
        history: One dict of logs per finished epoch.
        epochs: Epochs planned.
        monitor: The validation metric early stopping watches.
        higher_is_better: Whether a larger ``monitor`` is better (e.g. NDCG).
        restored: Whether the best epoch's weights were restored (else the last epoch's).

    Returns:
        One sentence.
    """
    values = [h.get(monitor) for h in history]
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    text = f"Stopped by the analyst after epoch {len(history)} of at most {epochs}"
    if not known:
        return text + "; the last weights were kept."
    pick = max if higher_is_better else min
    best, value = pick(known, key=lambda iv: iv[1])
    if restored:
        return (text + f"; the weights of epoch {best + 1} (best validation "
                f"{monitor.removeprefix('val_')} {value:.4f}) were kept and evaluated.")
    return text + (f"; the last epoch's weights were kept (early stopping was off; the best "
                   f"validation {monitor.removeprefix('val_')} was {value:.4f} at epoch "
                   f"{best + 1}).")
