"""Why a model decides (eval.py explain=true), computed on the evaluation split and logged to the
evaluation run.

Tables: the permutation importance of each raw column: how much the headline metric worsens
when that column's values are shuffled among the test rows (a categorical column shuffled as
one column, before its one-hot encoding), mean and standard deviation over `repeats`
shuffles; a CSV and a bar chart. scikit-learn's permutation_importance wants an estimator on
the encoded matrix, where a categorical column is several; the raw columns are what a person
reads, so the loop is here.
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.errors import UserError
from tunelab.inference.checkpoint import TrainedModel
from tunelab.tasks import headline

EXPLAINED = "tables (csv, diabetes)"


def explain(model: TrainedModel, datamodule: Any, folder: Path, repeats: int) -> list[Path]:
    """The explanation files of `model` on the test split of `datamodule`."""
    if model.preprocess.is_image or model.preprocess.is_text:
        kind = "images" if model.preprocess.is_image else "text"
        raise UserError(f"explain=true: explanations cover {EXPLAINED} so far, not {kind}")
    table = permutation_importance(model, datamodule, repeats)
    return write_importance(table, headline(model.task), folder)


def permutation_importance(
    model: TrainedModel, datamodule: Any, repeats: int, seed: int = 0
) -> Any:
    """Per raw column: the headline metric's worsening when the column is shuffled (mean, std
    over `repeats`), largest first."""
    import pandas as pd

    rows = datamodule.index["test"].cpu()
    raw = model.preprocess.decode(datamodule.data.x[rows])
    y = datamodule.data.y[rows]
    base = score(model, raw, y)
    generator = np.random.default_rng(seed)
    found = []
    for column in raw.columns:
        drops = []
        for _ in range(repeats):
            shuffled = raw.copy()
            shuffled[column] = generator.permutation(raw[column].to_numpy())
            drops.append(worsening(model.task, base, score(model, shuffled, y)))
        found.append({"column": column, "importance": np.mean(drops), "std": np.std(drops)})
    return pd.DataFrame(found).sort_values("importance", ascending=False, ignore_index=True)


def score(model: TrainedModel, raw: Any, y: torch.Tensor) -> float:
    """The model's headline metric (test/acc, test/rmse) on raw rows."""
    from tunelab.training.metrics import stage_metrics, summarise

    predictions = model.predict_raw(raw)
    values = stage_metrics(model.task, len(model.output_names), "test")(predictions, y)
    if model.task == "regression":  # several targets: as evaluate() summarises them
        values = summarise(values, model.output_names, model.metadata["target_scale"]["std"])
    return float(summarise(values)[headline(model.task)])


def worsening(task: str, base: float, shuffled: float) -> float:
    """How much worse `shuffled` is than `base`: accuracy lost, or error gained."""
    return shuffled - base if task == "regression" else base - shuffled


def write_importance(table: Any, metric: str, folder: Path) -> list[Path]:
    """permutation_importance.csv and a horizontal bar chart of it (error bars: the std)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    csv, png = folder / "permutation_importance.csv", folder / "permutation_importance.png"
    table.to_csv(csv, index=False)
    shown = table.iloc[::-1]  # the largest at the top
    figure, axes = plt.subplots(figsize=(6, 0.35 * len(table) + 1.2))
    axes.barh(shown["column"], shown["importance"], xerr=shown["std"], color="#4c72b0")
    axes.set_xlabel(f"{metric} worse when the column is shuffled")
    axes.axvline(0, color="black", linewidth=0.8)
    figure.tight_layout()
    figure.savefig(png, dpi=120)
    plt.close(figure)
    return [csv, png]
