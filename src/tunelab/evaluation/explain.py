"""Why a model decides (eval.py explain=true), computed on the evaluation split and logged to the
evaluation run.

Images (classification): integrated gradients of the predicted class's score for a few test
images per class, correct and wrong ones, with a saliency map beside (the gradient's size), drawn
as a grid; and each class's mean attribution over its test images. Written here rather than
with Captum (not a dependency): integrated gradients is a short loop over autograd, and the
tests check its completeness (the attributions sum to the score's change from the baseline).

Text (classification or regression): integrated gradients over the token embeddings (from
all-zero embeddings), summed over each token's embedding: how much each token moved the
predicted class's score or the predicted value, shown on a few test texts as a small HTML page.

Tables (classification or regression): the permutation importance of each raw column: how much
the headline metric worsens when that column's values are shuffled among the test rows (a
categorical column shuffled as one column, before its one-hot encoding), mean and standard
deviation over `repeats` shuffles; a CSV and a bar chart; and the integrated gradients of a few
test rows per raw column. scikit-learn's permutation_importance wants an estimator on
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
from tunelab.tracking.plots import plt, save_figure  # the house style, set on import

EXPLAINED = "tables and texts (classification, regression) and image classifiers"


def explain(model: TrainedModel, datamodule: Any, folder: Path, repeats: int) -> list[Path]:
    """The explanation files of `model` on the test split of `datamodule`."""
    if model.preprocess.is_image:
        if model.task != "classification":
            raise UserError(f"explain=true: explanations cover {EXPLAINED}, not image regressions")
        return image_attributions(model, datamodule, folder)
    if model.preprocess.is_text:
        return [text_attributions(model, datamodule, folder)]
    table = permutation_importance(model, datamodule, repeats)
    return [
        *write_importance(table, headline(model.task), folder),
        example_attributions(model, datamodule, folder),
    ]


def explained(model: TrainedModel, outputs: torch.Tensor) -> torch.Tensor:
    """The output each row's attributions explain: the predicted class's score, or a
    regression's (first) predicted value."""
    if model.task == "classification":
        return outputs.argmax(dim=1)
    return torch.zeros(len(outputs), dtype=torch.long)


def explained_output(model: TrainedModel) -> str:
    return "predicted class" if model.task == "classification" else "predicted value"


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
    from tunelab.training.metrics import measured

    std = (model.metadata.get("target_scale") or {}).get("std")
    values = measured(model.task, model.output_names, std, "test", model.predict_raw(raw), y)
    return values[headline(model.task)]


def worsening(task: str, base: float, shuffled: float) -> float:
    """How much worse `shuffled` is than `base`: accuracy lost, or error gained."""
    return shuffled - base if task == "regression" else base - shuffled


def write_importance(table: Any, metric: str, folder: Path) -> list[Path]:
    """permutation_importance.csv and a horizontal bar chart of it (error bars: the std)."""
    folder.mkdir(parents=True, exist_ok=True)
    csv, png = folder / "permutation_importance.csv", folder / "permutation_importance.png"
    table.to_csv(csv, index=False)
    shown = table.iloc[::-1]  # the largest at the top
    figure, axes = plt.subplots(figsize=(10, 0.45 * len(table) + 1.8))
    axes.barh(shown["column"], shown["importance"], xerr=shown["std"], color="#4c72b0")
    axes.set_xlabel(f"{metric} worse when the column is shuffled")
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_title("Permutation importance on the test split (mean ± std over the shuffles)")
    save_figure(figure, png)
    return [csv, png]


def integrated_gradients(
    network: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, steps: int = 32
) -> torch.Tensor:
    """Attributions [N, ...] of each input element to `network`'s score of class `target`,
    along the straight path from a zero baseline (the training mean, in standardised inputs);
    the midpoint rule over `steps` points. They sum to score(x) - score(0), up to the rule."""
    total = torch.zeros_like(x)
    for step in range(steps):
        point = (x * (step + 0.5) / steps).requires_grad_(True)
        score = network(point).gather(1, target[:, None]).sum()
        (gradient,) = torch.autograd.grad(score, point)
        total += gradient
    return x * total / steps


def saliency(network: torch.nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The size of the score's gradient at each input element (the simple baseline method)."""
    point = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(network(point).gather(1, target[:, None]).sum(), point)
    return gradient.abs()


def chosen_examples(predicted: torch.Tensor, y: torch.Tensor, classes: int, each: int) -> list[int]:
    """Per class, up to `each` correctly and `each` wrongly predicted test rows, in order."""
    chosen: list[int] = []
    for label in range(classes):
        for correct in (True, False):
            rows = ((y == label) & ((predicted == y) == correct)).nonzero().flatten()
            chosen += rows[:each].tolist()
    return chosen


def image_attributions(
    model: TrainedModel, datamodule: Any, folder: Path, each: int = 2
) -> list[Path]:
    """attributions.png (image, integrated gradients, saliency for chosen test images) and
    mean_attribution.png (each class's mean integrated gradients over its test images)."""
    rows = datamodule.index["test"].cpu()[:512]  # enough for a class's mean
    x = model.preprocess.standardize(datamodule.data.x[rows])
    y = datamodule.data.y[rows]
    network = model.network.eval()
    with torch.no_grad():
        predicted = model.outputs(x).argmax(dim=1)
    attributions = integrated_gradients(network, x, predicted)
    chosen = chosen_examples(predicted, y, len(model.classes), each)
    folder.mkdir(parents=True, exist_ok=True)
    titles = [
        f"{model.classes[int(y[i])]} -> {model.classes[int(predicted[i])]} "
        f"({'right' if y[i] == predicted[i] else 'wrong'})"
        for i in chosen
    ]
    grid = draw_attributions(
        datamodule.data.x[rows][chosen],
        attributions[chosen],
        saliency(network, x[chosen], predicted[chosen]),
        titles,
        per_row=2 * each,  # a class a row when it has enough right and wrong examples
    )
    grid_path, mean_path = folder / "attributions.png", folder / "mean_attribution.png"
    means = draw_class_means(attributions, y, model.classes)
    return [save_figure(grid, grid_path), save_figure(means, mean_path)]


def draw_attributions(images, attributions, saliencies, titles: list[str], per_row: int = 4) -> Any:
    """A grid of (image, integrated gradients over it, saliency) triples, `per_row` a row."""
    rows = max(-(-len(images) // per_row), 1)
    figure, axes = plt.subplots(
        rows, 3 * per_row, figsize=(1.15 * 3 * per_row, 1.35 * rows), squeeze=False
    )
    for axis in axes.flat:
        axis.set_axis_off()
    for number in range(len(images)):
        image, heat, size = axes[number // per_row, 3 * (number % per_row) :][:3]
        picture = images[number].permute(1, 2, 0).squeeze(-1).numpy()
        grey = "gray" if picture.ndim == 2 else None
        signed = attributions[number].sum(dim=0).numpy()
        limit = float(np.abs(signed).max()) or 1.0
        image.imshow(picture, cmap=grey)
        image.set_title(titles[number], fontsize=6, loc="left")
        heat.imshow(picture, cmap=grey, alpha=0.35)
        heat.imshow(signed, cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=0.75)
        size.imshow(saliencies[number].amax(dim=0).numpy(), cmap="magma")
    figure.suptitle(
        "image | integrated gradients over it (red: raises the score) | saliency", fontsize=9
    )
    return figure


def draw_class_means(attributions: torch.Tensor, y: torch.Tensor, classes: list[str]) -> Any:
    figure, axes = plt.subplots(1, len(classes), figsize=(1.2 * len(classes), 1.6), squeeze=False)
    for label, axis in enumerate(axes[0]):
        members = attributions[y == label]
        heat = members.sum(dim=1).mean(dim=0).numpy() if len(members) else np.zeros((1, 1))
        limit = float(np.abs(heat).max()) or 1.0
        axis.imshow(heat, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axis.set_title(classes[label], fontsize=8)
        axis.set_axis_off()
    figure.suptitle("mean integrated gradients per class", fontsize=9)
    return figure


def token_attributions(
    network: torch.nn.Module, ids: torch.Tensor, target: torch.Tensor, steps: int = 32
) -> torch.Tensor:
    """Each token's attribution [N, L'] to the score of class `target` (L': the positions the
    network embeds; a recurrent network trims the padding every text shares): integrated
    gradients over its embedding, from all-zero embeddings, summed over the embedding."""
    embedding: torch.nn.Module = network.embedding  # type: ignore[assignment]
    held: list[torch.Tensor] = []

    def scale(alpha: float):
        def hook(_module: Any, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
            point = (output.detach() * alpha).requires_grad_(True)
            held[:] = [output.detach(), point]
            return point

        return hook

    total: torch.Tensor | None = None
    for step in range(steps):
        handle = embedding.register_forward_hook(scale((step + 0.5) / steps))
        try:
            score = network(ids).gather(1, target[:, None]).sum()
        finally:
            handle.remove()
        (gradient,) = torch.autograd.grad(score, held[1])
        total = gradient if total is None else total + gradient
    assert total is not None
    return (held[0] * total / steps).sum(dim=-1)


def text_attributions(model: TrainedModel, datamodule: Any, folder: Path, count: int = 12) -> Path:
    """token_attributions.html for the first `count` test texts (true -> predicted)."""
    rows = datamodule.index["test"].cpu()[:count]
    ids = datamodule.data.x[rows]
    predicted = model.outputs(ids)
    titles = [
        f"{truth} -> {guess}"
        for truth, guess in zip(
            shown(model, datamodule.data.y[rows]), shown(model, predicted), strict=True
        )
    ]
    return token_page(model, ids, explained(model, predicted), titles, folder)


def shown(model: TrainedModel, values: torch.Tensor) -> list[str]:
    """Each row's class name (from a label or class probabilities) or first target's value."""
    if model.task != "classification":
        return [f"{float(v):.4g}" for v in values.reshape(len(values), -1)[:, 0]]
    labels = values.argmax(dim=1) if values.ndim == 2 else values
    return [model.classes[int(label)] for label in labels]


def token_page(
    model: TrainedModel, ids: torch.Tensor, target: torch.Tensor, titles: list[str], folder: Path
) -> Path:
    """token_attributions.html: each text's tokens shaded by how much they moved the score of
    its `target` class, or the predicted value (red: up, blue: down)."""
    import html

    attributions = token_attributions(model.network.eval(), ids, target)
    vocabulary = model.preprocess.tokenizer.vocabulary
    parts = [
        "<html><head><meta charset='utf-8'><title>token attributions</title></head>"
        "<body style='font-family: sans-serif; max-width: 60em'>",
        f"<h2>Token attributions (integrated gradients of the {explained_output(model)})</h2>",
    ]
    for row, title in enumerate(titles):
        values = attributions[row]
        limit = float(values.abs().max()) or 1.0
        spans = []
        for position in range(values.shape[0]):
            token = int(ids[row, position])
            if token == 0:  # padding
                continue
            share = float(values[position]) / limit
            colour = (
                f"rgba(214,39,40,{share:.2f})" if share > 0 else f"rgba(31,119,180,{-share:.2f})"
            )
            text = html.escape(vocabulary[token])
            spans.append(
                f"<span title='{float(values[position]):.4f}' style='background:{colour}'>{text}</span>"
            )
        parts.append(f"<p><b>{html.escape(title)}</b>: {' '.join(spans)}</p>")
    parts.append("</body></html>")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "token_attributions.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def explain_inputs(
    model: TrainedModel,
    x: torch.Tensor,
    ids: list[str],
    folder: Path,
    known: dict[str, list[str]] | None = None,
) -> list[Path]:
    """mode=predict explain=true: the attributions of each predicted input, to the predicted
    class's score (a regression: the first target's value). Tables: one row per input, one
    column per raw column (a categorical column's one-hot parts summed), attributions.csv,
    after the `known` columns; images: attributions.png; text: token_attributions.html."""
    network = model.network.eval()
    with torch.no_grad():
        target = explained(model, network(x))
    folder.mkdir(parents=True, exist_ok=True)
    titles = [f"{i}: {model.output_names[int(t)]}" for i, t in zip(ids, target, strict=True)]
    if model.preprocess.is_text:
        return [token_page(model, x, target, titles, folder)]
    attributions = integrated_gradients(network, x, target)
    if model.preprocess.is_image:
        figure = draw_attributions(x, attributions, saliency(network, x, target), titles)
        return [save_figure(figure, folder / "attributions.png")]
    return [table_attributions(model, attributions, ids, folder, known)]


def example_attributions(
    model: TrainedModel, datamodule: Any, folder: Path, count: int = 10
) -> Path:
    """attributions.csv for the first `count` test rows (as explain_inputs writes it for inputs
    to predict), with their target and the prediction."""
    rows = datamodule.index["test"].cpu()[:count]
    x = model.preprocess.standardize(datamodule.data.x[rows])
    known = {
        "target": shown(model, datamodule.data.y[rows]),
        "predicted": shown(model, model.outputs(x)),
    }
    (path,) = explain_inputs(model, x, [str(int(r)) for r in rows], folder, known)
    return path


def table_attributions(
    model: TrainedModel,
    attributions: torch.Tensor,
    ids: list[str],
    folder: Path,
    known: dict[str, list[str]] | None = None,
) -> Path:
    """Per input row, each raw column's attribution (a categorical column: its parts summed),
    after the row's id and any `known` columns (its target and prediction)."""
    import pandas as pd

    preprocess = model.preprocess
    encoded = pd.DataFrame(attributions.detach().numpy(), columns=list(preprocess.raw["columns"]))
    raw = {f: encoded[preprocess.encoded_columns(f)].sum(axis=1) for f in preprocess.features}
    table = pd.DataFrame({"id": ids, **(known or {}), **raw})
    path = folder / "attributions.csv"
    table.to_csv(path, index=False)
    return path
