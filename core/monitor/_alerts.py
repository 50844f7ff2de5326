"""Alerts in plain words, per chunk and for the whole table."""

from __future__ import annotations

from core.monitor._cbpe import METRICS

NAMES = {"roc_auc": "ROC-AUC", "precision": "Precision", "recall": "Recall", "f1": "F1"}


def _top(shares: dict) -> str:
    name, value = max(shares.items(), key=lambda kv: kv[1])
    return f"{name}, {value:.0%}"


def _metric_alerts(chunk: dict, training: dict) -> list[str]:
    est, real = chunk.get("estimated"), chunk.get("realized")
    band = (est or {}).get("band") or {}
    out = []
    for key in METRICS:
        b = band.get(key)
        if not b:
            continue
        at_training = training.get(key)
        trained = f" ({at_training:.2f} at training)" if at_training is not None else ""
        rng = f"{b['lower']:.2f}–{b['upper']:.2f}"
        if est and est.get(key) is not None and est[key] < b["lower"]:
            out.append(f"{NAMES[key]} estimated {est[key]:.2f}{trained}, below the range "
                       f"{rng} expected at this chunk's size.")
        if real and real.get(key) is not None and real[key] < b["lower"]:
            ci = (real.get("ci95") or {}).get(key)
            ci_text = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
            out.append(f"{NAMES[key]} realised {real[key]:.2f}{ci_text}{trained}, below the "
                       f"range {rng} expected at this chunk's size.")
    if est and real:
        for key in ("roc_auc", "f1"):
            ci = (real.get("ci95") or {}).get(key)
            if ci and est.get(key) is not None and not ci[0] <= est[key] <= ci[1]:
                out.append(f"{NAMES[key]} realised {real[key]:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] "
                           f"but estimated {est[key]:.2f}: the relation between features and "
                           f"outcome may have changed (concept drift), which no estimate can "
                           f"see.")
                break
    return out


def _drift_alerts(chunk: dict) -> list[str]:
    d, out = chunk["drift"], []
    if d["n_drifted"]:
        top = d["features"][0]["feature"]
        flag = " — dataset drift" if d["dataset_drift"] else ""
        out.append(f"{d['n_drifted']} of {d['n_features']} features drifted, largest: "
                   f"{top}{flag}.")
    mv = d.get("multivariate") or {}
    if mv.get("drifted"):
        out.append(f"A classifier tells these rows from the reference with ROC-AUC "
                   f"{mv['statistic']:.2f} (threshold {mv['threshold']:.2f}): the rows as a "
                   f"whole have changed.")
    pd_ = chunk.get("prediction_drift") or {}
    if pd_.get("drifted"):
        means = ""
        if pd_.get("mean_score") is not None and pd_.get("reference_mean_score") is not None:
            means = (f"; mean score {pd_['mean_score']:.3f} against "
                     f"{pd_['reference_mean_score']:.3f} on the reference")
        out.append(f"The score distribution shifted ({pd_['method']} {pd_['statistic']:.3g}, "
                   f"threshold {pd_['threshold']:g}{means}).")
    return out


def _quality_alerts(chunk: dict) -> list[str]:
    q, out = chunk["quality"], []
    if q["unseen_share"] > 0:
        out.append(f"{q['unseen_share']:.1%} of rows have categories never seen in training "
                   f"(most: {_top(q['unseen'])}).")
    if q["out_of_range_share"] > 0:
        out.append(f"{q['out_of_range_share']:.1%} of rows have values outside the training "
                   f"range (most: {_top(q['out_of_range'])}).")
    for name in q["missing_increase"]:
        m = q["missing"][name]
        out.append(f"Missing values in {name} rose from {m['reference']:.0%} to "
                   f"{m['current']:.0%}.")
    if not chunk["reliable"]:
        out.append("Estimates for this chunk are unreliable: more than 5% of its rows lie "
                   "outside what the model saw in training.")
    return out


def chunk_alerts(chunk: dict, training: dict) -> list[str]:
    """Alerts of one chunk, the headline first (e.g. "ROC-AUC estimated 0.71 (0.80 at
    training); 7 of 19 features drifted, largest: euribor3m").

    Args:
        chunk: The chunk's result (drift, prediction_drift, quality, estimated, realized).
        training: The run's test metrics at training.
    """
    alerts = _metric_alerts(chunk, training) + _drift_alerts(chunk) + _quality_alerts(chunk)
    if chunk.get("undefined"):
        alerts.append(f"Realised metrics undefined: {chunk['undefined']}")
    est = chunk.get("estimated") or {}
    d = chunk["drift"]
    if alerts and est.get("roc_auc") is not None and d["n_drifted"]:
        trained = training.get("roc_auc")
        at = f" ({trained:.2f} at training)" if trained is not None else ""
        head = (f"ROC-AUC estimated {est['roc_auc']:.2f}{at}; {d['n_drifted']} of "
                f"{d['n_features']} features drifted, largest: {d['features'][0]['feature']}.")
        alerts.insert(0, head)
    return alerts


def overall_alerts(chunks: list[dict]) -> list[str]:
    """The table's alerts: each alerting chunk's headline, and how many chunks drifted."""
    out = [f"Chunk {c['chunk']}: {c['alerts'][0]}" for c in chunks if c["alerts"]]
    drifted = [c["chunk"] for c in chunks if c["drift"]["dataset_drift"]]
    if drifted:
        out.append(f"Dataset drift in {len(drifted)} of {len(chunks)} chunks "
                   f"({', '.join(drifted[:6])}{' …' if len(drifted) > 6 else ''}).")
    return out
