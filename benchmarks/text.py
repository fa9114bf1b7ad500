"""Text on the offline library docs (which library documents this paragraph?): each text recipe
against TF-IDF + logistic regression on the same split (the same training, validation and test
rows; C chosen on validation), with each recipe's wall time per epoch and its exported ONNX
file's latency at batch 1 and 256.

    python -m benchmarks.text             # the closing note's table
    python -m benchmarks.text --tiny      # the tests' smoke run: one recipe, 1 epoch, 300 texts
                                          # of two libraries
"""

import argparse
import csv
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, report, run, run_id_of, scratch

# Each recipe: a name and its overrides (the experiments, and other networks on text_bag's data).
RECIPES = {
    "text_bag": ["experiment=text_bag"],
    "text_gru": ["experiment=text_gru"],
    "text_cnn": ["experiment=text_bag", "model=text_cnn", "tracking.experiment=text_cnn"],
    "transformer": [
        "experiment=text_bag",
        "model=transformer",
        "optimizer.lr=1e-3",
        "tracking.experiment=text_transformer",
    ],
    "text_bag subword": [
        "experiment=text_bag",
        "tokenizer=subword",
        "tokenizer.max_length=96",
        "tracking.experiment=text_bag_subword",
    ],
}
QUIET = ["print_config=false", "callbacks.progress_bar=null"]
C_VALUES = (0.3, 1.0, 3.0, 10.0, 30.0)


def tfidf_baseline(data: list[str]) -> dict:
    """TF-IDF of words and word pairs + logistic regression on the DataModule's split."""
    from hydra import compose, initialize_config_dir
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    from tunelab.data.datamodule import build_datamodule, build_tokenizer

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=text_bag", *data])
    datamodule = build_datamodule(cfg.data, "classification", build_tokenizer(cfg.tokenizer))
    texts, y = datamodule.data.texts, datamodule.data.y.numpy()
    assert texts is not None
    rows = {k: v.numpy() for k, v in datamodule.index.items()}
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform([texts[i] for i in rows["train"]])  # training rows only

    def fitted(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=2000).fit(features, y[rows["train"]])

    def split(name: str):
        return vectorizer.transform([texts[i] for i in rows[name]])

    best = max(
        C_VALUES, key=lambda c: accuracy_score(y[rows["val"]], fitted(c).predict(split("val")))
    )
    predicted = fitted(best).predict(split("test"))
    return {
        "recipe": f"TF-IDF + logistic regression (C={best:g}, chosen on val)",
        "test acc": float(accuracy_score(y[rows["test"]], predicted)),
        "macro F1": float(f1_score(y[rows["test"]], predicted, average="macro")),
        "epochs": "-",
        "s/epoch": float("nan"),
        "b1 ms": float("nan"),
        "b256 ms": float("nan"),
    }


def recipe_row(name: str, overrides: list[str], root: Path, tiny: bool) -> dict:
    """Train the recipe, read its test metrics and epoch times back, export it to ONNX."""
    from mlflow import MlflowClient

    budget = ["trainer.max_epochs=1"] if tiny else []
    _, out = run([str(ROOT / "train.py"), *QUIET, *overrides, *budget], root)
    run_id = run_id_of(out)
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    metrics = client.get_run(run_id).data.metrics
    # An epoch's wall time: between consecutive validations (the store's timestamps, ms).
    stamps = sorted(m.timestamp for m in client.get_metric_history(run_id, "val/acc"))
    gaps = [(b - a) / 1e3 for a, b in zip(stamps, stamps[1:], strict=False)]
    latency = onnx_latency(run_id, root, tiny)
    return {
        "recipe": name,
        "test acc": metrics["test/acc"],
        "macro F1": metrics["test/f1"],
        "epochs": int(metrics["epochs_trained"]),
        "s/epoch": statistics.median(gaps) if gaps else float("nan"),
        "b1 ms": latency["b1_ms_onnxruntime"],
        "b256 ms": latency["b256_ms_onnxruntime"],
    }


def onnx_latency(run_id: str, root: Path, tiny: bool) -> dict[str, float]:
    """`python export.py run_id=ID export.variants=[onnx]`: its row of variants.csv."""
    calls = ["latency.calls=3", "latency.warmup=1"] if tiny else []
    folder = root / "export" / run_id
    args = [f"run_id={run_id}", "export.variants=[onnx]", f"hydra.run.dir={folder}", *calls]
    run([str(ROOT / "export.py"), *args], root)
    with open(folder / "variants.csv") as file:
        (row,) = list(csv.DictReader(file))
    return {k: float(v) for k, v in row.items() if k.endswith("_ms_onnxruntime")}


def main(tiny: bool) -> None:
    root = scratch()
    # One data folder for every run: the library docs are written once (about 20 s).
    data = [f"paths.data_dir={root / 'data'}"]
    if tiny:  # two small libraries' sources to read, not torch's 50 MB (most of the 20 s)
        data += [
            "data.source.libraries=[numpy,matplotlib]",
            "data.source.per_library=150",
            f"data.source.cache={root / 'data' / 'tiny.csv'}",
        ]
    recipes = {"text_bag": RECIPES["text_bag"]} if tiny else RECIPES
    rows = [recipe_row(name, [*o, *data], root, tiny) for name, o in recipes.items()]
    rows.append(tfidf_baseline(data))
    notes = [
        "test acc, macro F1: the test split of data=library_docs (5 libraries, 1,000 texts each);",
        "s/epoch: median time between validations (train + validate one epoch);",
        "b1/b256 ms: the exported ONNX file in ONNX Runtime, median per call, this CPU.",
    ]
    report("text", "text on the library docs: recipes against TF-IDF, same split", rows, notes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="one recipe, 1 epoch, 300 texts")
    main(parser.parse_args().tiny)
