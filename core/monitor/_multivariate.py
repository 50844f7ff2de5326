"""Multivariate drift: can a classifier tell a chunk's rows from the reference's?

A domain classifier (Rabanser, Günnemann & Lipton, 2019, "Failing Loudly"; NannyML's
"domain classifier" calculator) sees rows encoded by the run's own preprocessor, labelled 1 for
the chunk and 0 for the reference, and is scored by out-of-fold ROC-AUC (2-fold cross-validated
``sklearn.ensemble.HistGradientBoostingClassifier``). Without drift the AUC stays near 0.5; it
catches changes no single column shows, such as a new correlation.

Drift when the AUC exceeds 0.5 by three standard deviations of the Mann–Whitney statistic under
no difference, sqrt((n1 + n2 + 1) / (12 n1 n2)) (0.039 for 1,000 rows a side), and by at least
0.05, so that a tiny but detectable difference in a large sample is not called drift. Samples of
at most 1,000 rows a side come from DuckDB (reservoir sampling).
"""

from __future__ import annotations

import math

import numpy as np

from core.monitor._chunks import CURRENT, REFERENCE
from core.warehouse import quote_ident

SAMPLE_ROWS = 1000
MIN_ROWS = 50
MIN_EFFECT = 0.05
FOLDS = 2


def _sample(con, relation: str, features: list[str], where: str = "", seed: int = 7):
    cols = ", ".join(quote_ident(c) for c in features)
    return con.execute(f"SELECT {cols} FROM (SELECT {cols} FROM {relation}{where}) "
                       f"USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE ({seed})").df()


def null_threshold(n1: int, n2: int) -> float:
    """ROC-AUC above which the two samples differ: 0.5 + max(3 × the Mann–Whitney standard
    deviation under no difference, 0.05)."""
    sd = math.sqrt((n1 + n2 + 1) / (12.0 * n1 * n2))
    return 0.5 + max(3.0 * sd, MIN_EFFECT)


def domain_auc(x_ref: np.ndarray, x_cur: np.ndarray, seed: int = 0) -> float:
    """Out-of-fold ROC-AUC of a classifier telling current rows (1) from reference rows (0).

    Args:
        x_ref: Encoded reference rows, shape (n1, d).
        x_cur: Encoded current rows, shape (n2, d).
        seed: Seed of the folds and the model.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    x = np.vstack([x_ref, x_cur])
    y = np.r_[np.zeros(len(x_ref)), np.ones(len(x_cur))]
    model = HistGradientBoostingClassifier(max_iter=40, learning_rate=0.1, max_leaf_nodes=15,
                                           early_stopping=False, random_state=seed)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    # one thread: on a shared machine OpenMP's spinning threads slow these small fits tenfold
    with threadpool_limits(1):
        p = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p))


def domain_classifier(con, run, features: list[str], chunks: list[int]) -> dict[int, dict]:
    """Domain-classifier drift of each chunk against the reference.

    Args:
        con: The connection holding the temporary tables.
        run: The run (its preprocessor encodes the rows).
        features: Feature columns.
        chunks: Chunk numbers to check.

    Returns:
        Chunk number → ``{"method", "statistic", "threshold", "drifted", "rows"}``, or a
        ``note`` instead when a side has fewer than 50 rows.
    """
    pre = run.preprocessor
    # trees need no piecewise-linear bins (Keras runs add 16 per numeric column): leave them out
    cols = [i for i, name in enumerate(pre.feature_names_out_) if "~bin" not in name]
    ref = pre.transform(_sample(con, REFERENCE, features))[:, cols]
    out = {}
    for c in chunks:
        cur = pre.transform(_sample(con, CURRENT, features, f" WHERE __chunk = {int(c)}"))[:, cols]
        if min(len(ref), len(cur)) < MIN_ROWS:
            out[c] = {"method": "domain_classifier", "statistic": None, "threshold": None,
                      "drifted": False, "rows": len(cur),
                      "note": f"Too few rows for the domain classifier (at least {MIN_ROWS})."}
            continue
        auc = domain_auc(ref, cur)
        limit = null_threshold(len(ref), len(cur))
        out[c] = {"method": "domain_classifier", "statistic": auc, "threshold": limit,
                  "drifted": auc > limit, "rows": len(cur)}
    return out
