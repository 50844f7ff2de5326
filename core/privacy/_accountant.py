"""The privacy accountant of DP-SGD: Google's ``dp-accounting`` library on the Poisson-subsampled
Gaussian mechanism, composed over the real number of steps.

Two accountants: Rényi DP (Mironov, 2017; Mironov, Talwar & Zhang, 2019), the classic figure,
and privacy loss distributions (PLD; Koskela et al., 2020; Doroshenko et al., 2022), which is
tighter and is the headline ε. The noise multiplier for a target ε is found with
``dp_accounting.calibrate_dp_mechanism`` on the PLD accountant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from core.errors import AppError

MAX_NOISE = 50.0    # a noise multiplier above this drowns any gradient: refused
HEAVY_NOISE = 5.0   # above this, a note warns that accuracy will suffer
NOMINAL_EPSILON = 50.0


class PrivacyError(AppError):
    """Bad differential-privacy settings (ε, δ, clip, bounds) or an audit that cannot run."""

    default_title = "The privacy settings need attention"


def _event(sampling_rate: float, noise_multiplier: float, steps: int):
    import dp_accounting

    return dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(
        sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier)), steps)


def _check(rows: int, batch_size: int, epochs: int, delta: float) -> None:
    if rows < 1 or batch_size < 1 or epochs < 1:
        raise PrivacyError(f"rows, batch size and epochs must be at least 1; got {rows}, "
                           f"{batch_size}, {epochs}.")
    if batch_size > rows:
        raise PrivacyError(f"The batch size ({batch_size}) exceeds the rows ({rows}); use a "
                           f"batch size below the number of training rows.")
    check_delta(delta, rows)


def check_delta(delta: float, rows: int) -> None:
    """Refuse a δ that is not below 1/n.

    Raises:
        PrivacyError: δ ≤ 0 or δ ≥ 1/n (a mechanism that publishes one random row outright
            satisfies (0, 1/n)-DP, so such a δ promises nothing).
    """
    if not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta > 0):
        raise PrivacyError(f"δ must be a number in (0, 1/n); got {delta!r}.")
    if delta >= 1.0 / rows:
        raise PrivacyError(
            f"δ = {delta:g} is not below 1/n = {1 / rows:.3g} for n = {rows:,} training rows: a "
            f"mechanism that publishes one customer's row outright already meets δ = 1/n. Use "
            f"δ ≤ {default_delta(rows):.3g} (the default, 1/(10·n)).")


def default_delta(rows: int) -> float:
    """The default δ: 1/(10·n) for n training rows (below 1/n, as it must be)."""
    return 1.0 / (10.0 * max(rows, 1))


def steps_per_epoch(rows: int, batch_size: int) -> int:
    """Steps of one epoch: ⌈n/B⌉ (each step samples every row with probability B/n)."""
    return int(math.ceil(rows / batch_size))


def epsilon_for(rows: int, batch_size: int, epochs: float, noise_multiplier: float,
                delta: float, steps: int | None = None) -> dict:
    """ε of DP-SGD with Poisson sampling, by the RDP and the PLD accountant.

    Args:
        rows: n, the training rows.
        batch_size: B, the expected batch size; the sampling rate is q = B/n.
        epochs: Epochs; the steps are ``epochs · ⌈n/B⌉`` unless ``steps`` is given.
        noise_multiplier: σ (noise standard deviation over the clip norm), > 0.
        delta: δ, below 1/n.
        steps: The steps actually run (e.g. after early stopping), overriding ``epochs``.

    Returns:
        ``{"epsilon_rdp", "epsilon_pld", "steps", "sampling_rate", "delta",
        "noise_multiplier"}``.

    Raises:
        PrivacyError: Bad rows, batch, epochs, σ or δ.
    """
    _check(rows, batch_size, max(int(math.ceil(epochs)), 1), delta)
    if not (math.isfinite(noise_multiplier) and noise_multiplier > 0):
        raise PrivacyError(f"The noise multiplier must be a number > 0; got {noise_multiplier}. "
                           f"With no noise there is no privacy guarantee (ε is infinite).")
    q = batch_size / rows
    steps = int(steps if steps is not None else round(epochs * steps_per_epoch(rows, batch_size)))
    return {"epsilon_rdp": _rdp(q, noise_multiplier, steps, delta),
            "epsilon_pld": _pld(q, noise_multiplier, steps, delta),
            "steps": steps, "sampling_rate": q, "delta": delta,
            "noise_multiplier": noise_multiplier}


@lru_cache(maxsize=256)
def _rdp(q: float, sigma: float, steps: int, delta: float) -> float:
    from dp_accounting import rdp

    acc = rdp.RdpAccountant()
    acc.compose(_event(q, sigma, steps))
    return float(acc.get_epsilon(delta))


@lru_cache(maxsize=256)
def _pld(q: float, sigma: float, steps: int, delta: float) -> float:
    from dp_accounting import pld

    acc = pld.PLDAccountant()
    acc.compose(_event(q, sigma, steps))
    return float(acc.get_epsilon(delta))


@lru_cache(maxsize=64)
def noise_for_epsilon(target_epsilon: float, delta: float, rows: int, batch_size: int,
                      epochs: int) -> float:
    """The smallest noise multiplier σ whose PLD ε is at most ``target_epsilon``.

    Args:
        target_epsilon: ε wanted, > 0.
        delta: δ, below 1/n.
        rows: n, the training rows.
        batch_size: B, the expected batch size.
        epochs: Planned epochs (the most steps training may run).

    Returns:
        σ, found by ``dp_accounting.calibrate_dp_mechanism`` (RDP, then PLD) to a
        relative tolerance of 0.2 %.

    Raises:
        PrivacyError: ε ≤ 0, or an ε so small that σ would exceed :data:`MAX_NOISE`.
    """
    import dp_accounting
    from dp_accounting import pld, rdp

    _check(rows, batch_size, epochs, delta)
    if not (math.isfinite(target_epsilon) and target_epsilon > 0):
        raise PrivacyError(f"ε must be a number > 0; got {target_epsilon}. ε = 0 would mean "
                           f"the model may not depend on the data at all.")
    q, steps = batch_size / rows, epochs * steps_per_epoch(rows, batch_size)
    if _pld(q, MAX_NOISE, steps, delta) > target_epsilon:
        raise PrivacyError(
            f"ε = {target_epsilon:g} over {epochs} epochs of batch {batch_size} on {rows:,} rows "
            f"would need a noise multiplier above {MAX_NOISE:g}: the noise added to each "
            f"averaged gradient (σ·C/B per coordinate) would drown what the data says. Raise "
            f"ε (1 is already a strong guarantee), train fewer epochs, or use a larger batch.")
    # RDP first (cheap at any σ), then PLD inside [σ_RDP / 2, σ_RDP]: PLD's ε is never larger,
    # and PLD at a tiny σ would be slow
    make = lambda s: _event(q, s, steps)
    hi = float(dp_accounting.calibrate_dp_mechanism(
        rdp.RdpAccountant, make, target_epsilon, delta,
        dp_accounting.ExplicitBracketInterval(1e-2, MAX_NOISE), tol=1e-4))
    if _pld(q, hi / 2, steps, delta) <= target_epsilon:
        return hi / 2
    return float(dp_accounting.calibrate_dp_mechanism(
        pld.PLDAccountant, make, target_epsilon, delta,
        dp_accounting.ExplicitBracketInterval(hi / 2, hi), tol=hi * 2e-3))


@dataclass(frozen=True)
class DPPlan:
    """What DP-SGD will do for a run, before training.

    Attributes:
        target_epsilon: ε asked for.
        delta: δ used.
        clip: C, the per-example L2 clip norm.
        noise_multiplier: σ found for ``target_epsilon`` over ``epochs``.
        rows: n, training rows.
        batch_size: B, expected batch size (q = B/n).
        epochs: Planned epochs.
        steps_per_epoch: ⌈n/B⌉.
        notes: Warnings in words (heavy noise, a nominal ε).
    """

    target_epsilon: float
    delta: float
    clip: float
    noise_multiplier: float
    rows: int
    batch_size: int
    epochs: int
    steps_per_epoch: int
    notes: tuple[str, ...] = ()

    @property
    def sampling_rate(self) -> float:
        """q = B/n."""
        return self.batch_size / self.rows


def plan_dp(target_epsilon: float, delta: float | None, clip: float, rows: int,
            batch_size: int, epochs: int) -> DPPlan:
    """Check the settings and find σ for a DP run (see :func:`noise_for_epsilon`).

    Raises:
        PrivacyError: ε ≤ 0 or too small for any useful noise, δ ≥ 1/n, clip ≤ 0.
    """
    delta = default_delta(rows) if delta is None else float(delta)
    if not (math.isfinite(clip) and clip > 0):
        raise PrivacyError(f"The clip norm C must be a finite number > 0; got {clip}.")
    sigma = noise_for_epsilon(float(target_epsilon), delta, int(rows), int(batch_size),
                              int(epochs))
    notes = []
    if sigma > HEAVY_NOISE:
        notes.append(f"ε = {target_epsilon:g} needs heavy noise (σ = {sigma:.1f}); expect a "
                     f"large loss of accuracy. A larger batch or fewer epochs need less noise.")
    if target_epsilon > NOMINAL_EPSILON:
        notes.append(f"ε = {target_epsilon:g} is a nominal guarantee: e^ε bounds how much more "
                     f"likely any outcome becomes, and e^{target_epsilon:g} bounds nothing in "
                     f"practice.")
    return DPPlan(float(target_epsilon), delta, float(clip), sigma, int(rows), int(batch_size),
                  int(epochs), steps_per_epoch(rows, batch_size), tuple(notes))


def spent(plan: DPPlan, epochs_run: int) -> dict:
    """The privacy block of a finished DP run (config.json ``privacy``, CLI, card, report).

    Args:
        plan: The run's :class:`DPPlan`.
        epochs_run: Epochs actually trained (early stopping may end sooner: fewer steps,
            smaller ε).

    Returns:
        JSON-ready: ``epsilon`` (PLD, spent), ``epsilon_rdp``, ``target_epsilon``, ``delta``,
        ``noise_multiplier``, ``clip``, ``accountant``, ``sampling``, ``sampling_rate``,
        ``steps``, ``expected_batch_size``, ``mechanism``, ``notes``.
    """
    steps = max(int(epochs_run), 1) * plan.steps_per_epoch
    eps = epsilon_for(plan.rows, plan.batch_size, epochs_run, plan.noise_multiplier,
                      plan.delta, steps=steps)
    return {"epsilon": eps["epsilon_pld"], "epsilon_rdp": eps["epsilon_rdp"],
            "target_epsilon": plan.target_epsilon, "delta": plan.delta,
            "noise_multiplier": plan.noise_multiplier, "clip": plan.clip,
            "accountant": "PLD (dp-accounting; RDP figure beside it)",
            "sampling": "Poisson (each row joins each step with probability q)",
            "sampling_rate": plan.sampling_rate, "steps": steps,
            "expected_batch_size": plan.batch_size,
            "mechanism": "DP-SGD (Abadi et al. 2016): per-example clipping, Gaussian noise",
            "notes": list(plan.notes)}
