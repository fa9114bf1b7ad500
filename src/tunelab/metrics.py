"""The metrics logged for train, val and test, by name: {name: (torchmetrics class, arguments)}.

Add a metric with one line here; it is then logged as train/NAME, val/NAME and test/NAME and
can be the objective or a callback's monitor. (No torch import: config checks read the names.)
"""

METRICS: dict[str, tuple[str, dict]] = {
    "acc": ("Accuracy", {}),
    "f1": ("F1Score", {"average": "macro"}),
    "auroc": ("AUROC", {"average": "macro"}),
}
