"""What the review report shows (:class:`ReportOptions`) and the error it raises."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import AppError


class ReportError(AppError):
    """The review report could not be written."""

    default_title = "The report could not be built"


@dataclass(frozen=True)
class ReportOptions:
    """What the review report shows.

    Attributes:
        threshold: Decision threshold for every threshold-dependent number (None: the run's
            saved threshold, 0.5 by default).
        rows: Test rows to explain when the run has no cached explanation.
        segment: Column of the segment table (None: the column whose segments differ most).
        scenario: ``{"contact_cost", "conversion_value", "fraction"}`` of a business scenario to
            simulate on the test split, or None (then the run's latest saved scenario, if any).
        intended_use: The model card's intended use (None: a sentence built from the run).
        scenario_result: ``{"title", "summary", "curve"}`` of a scenario already simulated
            (the Impact page passes its own result, so the report repeats its numbers);
            takes precedence over ``scenario``.
        fairness_by: Sensitive column of a fairness section (None: no section).
    """

    threshold: float | None = None
    rows: int = 1000
    segment: str | None = None
    scenario: dict | None = None
    intended_use: str | None = None
    scenario_result: dict | None = None
    fairness_by: str | None = None
