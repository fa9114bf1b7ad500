"""eval.py explain=true: why a model decides, on the test split, logged to the evaluation run."""

from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import job_in_process, store_uri, train_in_process


def write_signal_table(path: Path, rows: int = 400) -> Path:
    """The class is the sign of `signal`; `noise` and `colour` have nothing to do with it."""
    generator = np.random.default_rng(0)
    signal = generator.normal(size=rows)
    frame = pd.DataFrame(
        {
            "signal": signal,
            "noise": generator.normal(size=rows),
            "colour": generator.choice(["red", "green", "blue"], size=rows),
            "label": np.where(signal > 0, "up", "down"),
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_the_column_the_target_depends_on_matters_most_and_noise_not_at_all(tmp_path) -> None:
    from mlflow import MlflowClient

    table = write_signal_table(tmp_path / "signal.csv")
    overrides = [
        "data=csv",
        f"data.source.path={table}",
        "data.source.target=label",
        "data.source.categorical=[colour]",
        "model=mlp",
        "optimizer.lr=1e-2",
        "trainer.max_epochs=8",
    ]
    job = train_in_process(overrides, tmp_path)
    common = [f"paths.root_dir={tmp_path}", f"tracking.uri={store_uri(tmp_path)}"]
    model = [f"run_id={job.run.run_id}"]
    evaluated = job_in_process("eval", [*common, *model, "explain=true"], tmp_path / "eval")
    importance = pd.read_csv(tmp_path / "eval" / "permutation_importance.csv")
    assert importance["column"].tolist()[0] == "signal"
    assert importance.set_index("column").loc["signal", "importance"] > 0.2
    for column in ("noise", "colour"):  # categorical colour shuffled as one column
        assert abs(importance.set_index("column").loc[column, "importance"]) < 0.05
    logged = MlflowClient(store_uri(tmp_path)).list_artifacts(evaluated.run.run_id)
    assert {"permutation_importance.csv", "permutation_importance.png", "attributions.csv"} <= {
        a.path for a in logged
    }
    examples = pd.read_csv(tmp_path / "eval" / "attributions.csv")  # a few test rows
    assert list(examples.columns) == ["id", "target", "predicted", "signal", "noise", "colour"]
    assert set(examples["target"]) <= {"up", "down"} and len(examples) == 10
    assert (examples["signal"].abs() > examples["noise"].abs()).mean() >= 0.8
    # Each predicted row's attributions, per raw column (colour's one-hot parts summed).
    rows = pd.read_csv(table).drop(columns=["label"]).head(5)
    rows.to_csv(tmp_path / "new.csv", index=False)
    predict = [*common, *model, "explain=true", "mode=predict", f"input={tmp_path / 'new.csv'}"]
    job_in_process("eval", predict, tmp_path / "p")
    attributions = pd.read_csv(tmp_path / "p" / "attributions.csv")
    assert (
        list(attributions.columns) == ["id", "signal", "noise", "colour"] and len(attributions) == 5
    )
    assert (attributions["signal"].abs() > attributions["noise"].abs()).mean() >= 0.8


def test_image_attributions_have_the_inputs_shape_and_are_complete(tmp_path) -> None:
    import torch
    from mlflow import MlflowClient

    from tunelab.evaluation.explain import integrated_gradients
    from tunelab.inference.checkpoint import load_model

    job = train_in_process(["trainer.max_epochs=2"], tmp_path)  # the CNN on digits
    model = load_model(tmp_path / "outputs" / "in-process" / "checkpoints" / "best.ckpt")
    x = model.preprocess.standardize(torch.rand(6, 1, 8, 8))
    target = torch.arange(6)
    attributions = integrated_gradients(model.network, x, target, steps=64)
    assert attributions.shape == x.shape
    with torch.no_grad():  # completeness: they add up to the score's change from the baseline
        change = (model.network(x) - model.network(torch.zeros_like(x))).gather(1, target[:, None])
    torch.testing.assert_close(attributions.sum(dim=(1, 2, 3)), change[:, 0], rtol=0.02, atol=0.02)
    common = [f"paths.root_dir={tmp_path}", f"tracking.uri={store_uri(tmp_path)}"]
    evaluated = job_in_process(
        "eval", [*common, f"run_id={job.run.run_id}", "explain=true"], tmp_path / "e"
    )
    logged = {
        a.path for a in MlflowClient(store_uri(tmp_path)).list_artifacts(evaluated.run.run_id)
    }
    assert {"attributions.png", "mean_attribution.png"} <= logged


def test_token_attributions_are_complete_and_shown_on_the_texts(tmp_path) -> None:
    import torch
    from mlflow import MlflowClient

    from tests.test_text_data import text_overrides, write_reviews
    from tunelab.evaluation.explain import token_attributions
    from tunelab.inference.checkpoint import load_model

    table = write_reviews(tmp_path / "reviews.csv", rows=120)
    overrides = [*text_overrides(table, "gru"), "model.hidden_dim=16", "trainer.max_epochs=4"]
    job = train_in_process(overrides, tmp_path)
    model = load_model(tmp_path / "outputs" / "in-process" / "checkpoints" / "best.ckpt")
    ids = model.preprocess.tokenizer.encode(["the plot was excellent", "a scene and the actors"])
    target = torch.tensor([1, 0])
    attributions = token_attributions(model.network, ids, target, steps=64)
    assert attributions.shape[0] == 2 and attributions[:, 5:].abs().sum() == 0  # padding: none
    embedding = model.network.embedding
    handle = embedding.register_forward_hook(lambda _m, _i, output: output * 0)
    with torch.no_grad():  # completeness: the score's change from all-zero embeddings
        start = model.network(ids).gather(1, target[:, None])[:, 0]
    handle.remove()
    with torch.no_grad():
        end = model.network(ids).gather(1, target[:, None])[:, 0]
    torch.testing.assert_close(attributions.sum(dim=1), end - start, rtol=0.03, atol=0.03)
    excellent = model.preprocess.tokenizer.ids["excellent"]
    strongest = int(attributions[0].argmax())
    assert int(ids[0, strongest]) == excellent  # the word the class hides
    common = [f"paths.root_dir={tmp_path}", f"tracking.uri={store_uri(tmp_path)}"]
    evaluated = job_in_process(
        "eval", [*common, f"run_id={job.run.run_id}", "explain=true"], tmp_path / "e"
    )
    page = (tmp_path / "e" / "token_attributions.html").read_text()
    assert "<span title=" in page and "excellent" in page
    logged = {
        a.path for a in MlflowClient(store_uri(tmp_path)).list_artifacts(evaluated.run.run_id)
    }
    assert "token_attributions.html" in logged
