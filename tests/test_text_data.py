"""Text end to end: sources and their one-line errors, the tokenizer learned from the training
split only, training and the checkpoint, the MLflow model on strings, evaluation, prediction
and the exported file with its tokenizer."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import job_in_process, store_uri, train_in_process, training_refused
from tests.test_text import separable
from tunelab.data.datamodule import DataModule, build_datamodule
from tunelab.data.text import load_ag_news, load_imdb, load_text_csv, load_text_folder, text_data
from tunelab.data.tokenizers import UNKNOWN, WordTokenizer
from tunelab.errors import DataError, UserError
from tunelab.inference.checkpoint import load_model


def write_reviews(path: Path, rows: int = 240, seed: int = 0) -> Path:
    """A separable text CSV: class "good" hides the word excellent, with a numeric score."""
    texts, labels = separable(rows, seed)
    frame = pd.DataFrame(
        {
            "review": texts,
            "label": ["good" if v else "bad" for v in labels.tolist()],
            "score": [float(v) * 4 + 1 for v in labels.tolist()],
        }
    )
    frame.to_csv(path, index=False)
    return path


def text_overrides(path: Path, model: str = "embedding_bag") -> list[str]:
    return [
        "data=text_csv",
        f"data.source.path={path}",
        "data.source.text=review",
        "data.source.target=label",
        "tokenizer.max_length=16",
        "tokenizer.min_count=1",
        f"model={model}",
        "model.embedding_dim=16",
        "optimizer.lr=2e-2",
        "data.batch_size=32",
        "tracking.experiment=reviews",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"text": "body"}, "no column 'body' (data.source.text)"),
        ({"target": "stars"}, "no column 'stars' (data.source.target)"),
        ({"text": "score"}, "the text column 'score' holds numbers"),
        ({"blank": True}, "the text column 'review' is empty in 1 row(s) (line 3)"),
    ],
)
def test_a_text_csv_mistake_is_one_line_naming_the_column(tmp_path, change, message) -> None:
    path = write_reviews(tmp_path / "reviews.csv", rows=20)
    if change.pop("blank", False):
        frame = pd.read_csv(path)
        frame.loc[1, "review"] = None
        frame.to_csv(path, index=False)
    arguments = {"text": "review", "target": "label", **change}
    with pytest.raises(DataError, match=re.escape(message)):
        load_text_csv(str(path), **arguments)


def test_a_text_folder_keeps_its_split_folders_and_names_an_empty_class(tmp_path) -> None:
    for split, name, text in [
        ("train", "neg", "dull"),
        ("train", "pos", "great"),
        ("test", "neg", "boring"),
        ("test", "pos", "superb"),
        ("train", "unsup", "unlabelled"),
    ]:
        folder = tmp_path / "texts" / split / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{text}.txt").write_text(f"a {text} film")
    data = load_text_folder(str(tmp_path / "texts"), classes=["neg", "pos"])
    assert data.classes == ["neg", "pos"] and data.texts is not None
    assert [data.texts[i] for i in data.fixed_splits["test"].tolist()] == [
        "a boring film",
        "a superb film",
    ]
    assert "a unlabelled film" not in data.texts
    (tmp_path / "texts" / "train" / "empty").mkdir()
    with pytest.raises(DataError, match="class folder .*empty holds no .txt files"):
        load_text_folder(str(tmp_path / "texts"))


def test_ag_news_and_imdb_read_their_upstream_layouts(tmp_path) -> None:
    news = tmp_path / "ag_news"
    news.mkdir()
    (news / "train.csv").write_text(
        '"3","Wall St. Bears Claw Back","Reuters - Short-sellers, \\\\band of cynics"\n'
        '"2","Team wins","The home side won"\n'
    )
    (news / "test.csv").write_text('"4","New chip","A faster processor"\n')
    data = load_ag_news(str(tmp_path))
    assert data.classes == ["World", "Sports", "Business", "Sci/Tech"]
    assert data.y.tolist() == [2, 1, 3] and data.fixed_splits["test"].tolist() == [2]
    assert data.texts is not None and "\\" not in data.texts[0]
    assert data.texts[0].startswith("Wall St. Bears Claw Back. Reuters")
    (news / "test.csv").write_text('"9","Odd","A label beyond 4"\n')
    with pytest.raises(DataError, match="AG News labels are 1-4"):
        load_ag_news(str(tmp_path))
    for split in ("train", "test"):
        for name in ("pos", "neg", "unsup"):
            folder = tmp_path / "aclImdb" / split / name
            folder.mkdir(parents=True)
            (folder / "0_7.txt").write_text(f"{name} review.<br />Second line")
    imdb = load_imdb(str(tmp_path))
    assert imdb.classes == ["neg", "pos"] and imdb.texts is not None and len(imdb.texts) == 4
    assert imdb.texts[0] == "neg review. Second line"
    with pytest.raises(DataError, match=re.escape("data=imdb data.download=true")):
        load_imdb(str(tmp_path / "elsewhere"))


def test_the_tokenizer_learns_from_the_training_split_only(tmp_path) -> None:
    texts = [f"common word{i % 3}" for i in range(40)] + ["zebra"] * 10
    labels = torch.tensor([i % 2 for i in range(50)])
    data = text_data("t", texts, labels, ["a", "b"], {})
    split = {"val": 0.2, "test": 0.2, "seed": 0}
    datamodule = DataModule(data, split, 8, tokenizer=WordTokenizer(max_length=4))
    train_texts = {texts[i] for i in datamodule.index["train"].tolist()}
    assert datamodule.data.inputs["kind"] == "text"
    vocabulary = datamodule.data.inputs["tokenizer"]["vocabulary"]
    for i in datamodule.index["test"].tolist():
        if texts[i] not in train_texts:  # a text only the test split holds: unknown words
            assert datamodule.data.x[i, 0] == UNKNOWN and texts[i] not in vocabulary
    assert datamodule.data.x.dtype == torch.int64 and datamodule.input_shape == (4,)
    assert (
        datamodule.summary["fingerprint"]
        == DataModule(
            text_data("t", texts, labels, ["a", "b"], {}), split, 8, tokenizer=WordTokenizer()
        ).summary["fingerprint"]
    )  # the texts are hashed, not their ids
    with pytest.raises(DataError, match="choose a tokenizer"):
        DataModule(text_data("t", texts, labels, ["a", "b"], {}), split, 8)


@pytest.fixture(scope="module")
def review_run(tmp_path_factory):
    """One GRU trained on the reviews in this process: (root, table, job)."""
    root = tmp_path_factory.mktemp("reviews")
    table = write_reviews(root / "reviews.csv")
    overrides = [*text_overrides(table, "gru"), "model.hidden_dim=16", "trainer.max_epochs=6"]
    return root, table, train_in_process(overrides, root)


def best_checkpoint(root: Path) -> Path:
    return root / "outputs" / "in-process" / "checkpoints" / "best.ckpt"


def test_a_text_model_learns_and_reads_raw_strings_back(review_run) -> None:
    import mlflow
    from mlflow import MlflowClient

    from tunelab.tracking.registry import run_model_id

    root, table, job = review_run
    run = MlflowClient(store_uri(root)).get_run(job.run.run_id)
    assert run.data.metrics["test/acc"] >= 0.9  # chance is 0.5
    assert run.data.tags["data.tokenizer"] == "words"
    vocabulary = load_model(best_checkpoint(root)).metadata["inputs"]["tokenizer"]["vocabulary"]
    assert run.data.tags["data.vocab_size"] == str(len(vocabulary))
    assert "int64" in run.inputs.dataset_inputs[0].dataset.schema  # token ids
    model = load_model(best_checkpoint(root))
    assert model.metadata["inputs"]["tokenizer"]["kind"] == "words"
    frame = pd.read_csv(table)
    from_strings = model.predict_raw(frame["review"].tolist())
    from_table = model.predict_raw(frame[["review"]])
    torch.testing.assert_close(from_strings, from_table)
    accuracy = (from_strings.argmax(1).numpy() == (frame["label"] == "good").to_numpy()).mean()
    assert accuracy >= 0.9
    mlflow.set_tracking_uri(store_uri(root))
    served = mlflow.pyfunc.load_model(f"models:/{run_model_id(MlflowClient(), job.run.run_id)}")
    assert served.metadata.get_input_schema().input_names() == ["review"]
    assert served.metadata.get_input_schema().input_types()[0].name == "string"
    predicted = served.predict(frame[["review"]].head(8))
    np.testing.assert_allclose(predicted.to_numpy(), from_strings[:8].numpy(), rtol=1e-5)
    # What `mlflow models serve` answers to JSON texts: its scoring app, without the server.
    from fastapi.testclient import TestClient
    from mlflow.pyfunc import scoring_server

    records = [{"review": text} for text in frame["review"].head(3)]
    answer = TestClient(scoring_server.init(served)).post(
        "/invocations", json={"dataframe_records": records}
    )
    assert answer.status_code == 200, answer.text
    scores = [list(row.values()) for row in answer.json()["predictions"]]
    np.testing.assert_allclose(scores, from_strings[:3].numpy(), rtol=1e-5)


def test_evaluation_and_prediction_of_texts_use_the_trained_tokenizer(review_run, tmp_path):
    root, table, job = review_run
    common = [
        f"paths.root_dir={root}",
        f"tracking.uri={store_uri(root)}",
        f"run_id={job.run.run_id}",
    ]
    metrics = job_in_process("eval", common, tmp_path / "eval").results
    assert metrics["test/acc"] >= 0.9
    assert (tmp_path / "eval" / "confusion_matrix.png").is_file()
    other = write_reviews(tmp_path / "other.csv", rows=100, seed=7)  # new texts, same classes
    source = [f"data.source.path={other}", "data.source.text=review", "data.source.target=label"]
    on_other = job_in_process("eval", [*common, "data=text_csv", *source], tmp_path / "other")
    assert on_other.results["test/acc"] >= 0.9
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "a.txt").write_text("the plot was excellent")
    (folder / "b.txt").write_text("the plot was a scene")
    job_in_process("eval", [*common, "mode=predict", f"input={folder}"], tmp_path / "predict")
    predictions = pd.read_csv(tmp_path / "predict" / "predictions.csv")
    assert predictions["id"].tolist() == ["a.txt", "b.txt"]
    assert predictions["predicted"].tolist() == ["good", "bad"]


def test_the_exported_file_takes_token_ids_and_ships_the_tokenizer(review_run, tmp_path):
    from hydra import compose, initialize_config_dir

    from tests.conftest import CONF
    from tunelab.export.formats import onnx_metadata, onnx_session, run_onnx
    from tunelab.export.variants import export

    root, table, _ = review_run
    model = load_model(best_checkpoint(root))
    datamodule = build_datamodule(
        OmegaConf.create(model.config["data"]), model.task, model.preprocess.tokenizer
    )
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(
            "export",
            overrides=[
                "export.variants=[onnx,int8_dynamic]",
                "latency.batch_sizes=[1]",
                "latency.calls=2",
                "latency.warmup=1",
            ],
        )
    rows = {r["variant"]: r for r in export(cfg, model, datamodule, tmp_path)}
    assert rows["onnx"]["test_acc"] >= 0.9 and rows["int8_dynamic"]["test_acc"] >= 0.85
    session = onnx_session(tmp_path / "model.onnx")
    assert "token ids, int64" in onnx_metadata(session)["input"]
    # The documented snippet, run as written on these files: no tunelab in it.
    snippet = documented_snippet("tokenizer.json").replace('"model/', f'"{tmp_path}/')
    assert "tunelab" not in snippet
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - the README's own code
    texts = pd.read_csv(table)["review"].head(6).tolist()
    x = namespace["encode"](texts)
    assert np.array_equal(x, model.preprocess.tokenizer.encode(texts).numpy())
    np.testing.assert_allclose(
        run_onnx(session, x), model.predict_raw(texts).numpy(), rtol=1e-4, atol=1e-5
    )


def documented_snippet(containing: str) -> str:
    """The python code block of docs/text.md (linked from the README) that mentions `containing`."""
    from tests.conftest import ROOT

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "text.md").read_text(), re.S)
    (block,) = [b for b in blocks if containing in b]
    return block


def test_a_text_model_on_images_or_an_image_model_on_texts_is_one_line(tmp_path) -> None:

    table = write_reviews(tmp_path / "reviews.csv", rows=40)
    for overrides, message in [
        ([*text_overrides(table), "model=mlp"], "model MLP does not read text"),
        (["model=gru"], "model Recurrent reads token ids: it needs text data"),
        (["tokenizer=words"], "is not text: a tokenizer is for text data"),
    ]:
        overrides = [o for o in overrides if not o.startswith("model.")]
        assert message in training_refused(overrides, tmp_path)


def test_subword_and_character_tokenizers_train_a_model(tmp_path) -> None:
    table = write_reviews(tmp_path / "reviews.csv", rows=120)
    base = [o for o in text_overrides(table) if not o.startswith("tokenizer.")]
    for choice in (
        ["tokenizer=subword", "tokenizer.vocab_size=60", "tokenizer.min_count=1"],
        ["tokenizer=chars", "tokenizer.max_length=48"],
    ):
        root = tmp_path / choice[0][10:]
        root.mkdir()
        train_in_process([*base, *choice, "trainer.max_epochs=1"], root)
        model = load_model(best_checkpoint(root))
        assert model.metadata["inputs"]["tokenizer"]["kind"] == choice[0][10:]
        assert model.predict_raw(["the plot was excellent"]).shape == (1, 2)
    with pytest.raises(UserError):
        load_text_csv(str(tmp_path / "absent.csv"), "review", "label")


def test_a_number_is_predicted_from_text_with_task_regression(tmp_path) -> None:
    table = write_reviews(tmp_path / "reviews.csv", rows=120)
    base = [o for o in text_overrides(table) if o != "data.source.target=label"]
    train_in_process([*base, "task=regression", "data.source.target=score"], tmp_path)
    model = load_model(best_checkpoint(tmp_path))
    assert model.task == "regression" and model.output_names == ["score"]
    assert model.predict_raw(["the plot was excellent", "a scene"]).shape == (2, 1)
    # explained on the predicted value: each text titled "true score -> predicted score"
    common = [f"paths.root_dir={tmp_path}", f"tracking.uri={store_uri(tmp_path)}"]
    checkpoint = f"ckpt_path={best_checkpoint(tmp_path)}"
    job_in_process("eval", [*common, checkpoint, "explain=true"], tmp_path / "e")
    page = (tmp_path / "e" / "token_attributions.html").read_text()
    assert "predicted value" in page and re.search(r"<b>-?[\d.]+ -&gt; -?[\d.]+</b>", page)


def test_word_vectors_start_the_embedding_and_their_coverage_is_recorded(tmp_path) -> None:
    from mlflow import MlflowClient

    from tunelab.models.word_vectors import read_word_vectors

    table = write_reviews(tmp_path / "reviews.csv", rows=120)
    vectors = tmp_path / "vectors.vec"
    lines = ["3 16"]  # word2vec's header line
    for i, word in enumerate(["excellent", "plot", "notaword"]):
        lines.append(" ".join([word, *(f"{(i + 1) * 0.1 + j * 0.01:.2f}" for j in range(16))]))
    vectors.write_text("\n".join(lines) + "\n")
    rows, found = read_word_vectors(vectors, ["<pad>", "<unk>", "plot", "film"], 16)
    assert found.tolist() == [False, False, True, False] and rows[2, 1].item() == pytest.approx(
        0.21
    )
    overrides = [
        *text_overrides(table),
        f"word_vectors.path={vectors}",
        "word_vectors.freeze=true",
        "trainer.max_epochs=1",
    ]
    job = train_in_process(overrides, tmp_path)
    tags = MlflowClient(store_uri(tmp_path)).get_run(job.run.run_id).data.tags
    model = load_model(best_checkpoint(tmp_path))
    vocabulary = model.metadata["inputs"]["tokenizer"]["vocabulary"]
    assert tags["word_vectors.found"] == "2" and tags["word_vectors.frozen"] == "true"
    assert float(tags["word_vectors.coverage"]) == pytest.approx(2 / (len(vocabulary) - 2), 1e-3)
    weight = model.network.embedding.weight
    excellent = vocabulary.index("excellent")  # frozen: still the file's numbers after training
    torch.testing.assert_close(weight[excellent], torch.arange(16) * 0.01 + 0.1)
    vectors.write_text("plot 0.1 0.2\n")
    (tmp_path / "again").mkdir()
    with pytest.raises(SystemExit, match=r"line 1: 2 numbers .* set model.embedding_dim=2"):
        train_in_process(overrides, tmp_path / "again")


def test_a_sweep_over_text_networks_is_one_parent_with_a_child_each(tmp_path) -> None:
    from mlflow import MlflowClient

    from tests.conftest import run_in_process

    table = write_reviews(tmp_path / "reviews.csv", rows=80)
    base = [o for o in text_overrides(table) if not o.startswith("model")]
    args = ["-m", *base, "model=embedding_bag,text_cnn", "trainer.max_epochs=1"]
    run_in_process([*args, "print_config=false", "callbacks.progress_bar=null"], tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    runs = client.search_runs([client.get_experiment_by_name("reviews").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.data.params["model"] for r in children) == ["embedding_bag", "text_cnn"]
    assert all(r.info.status == "FINISHED" for r in children)
    assert all(r.data.tags["data.tokenizer"] == "words" for r in children)
