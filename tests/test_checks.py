"""Values that cannot work stop before training, with one message naming the key."""

import pytest

from tests.test_config import imported_modules, run_quick

BAD = {
    "negative lr": (["optimizer.lr=-1"], "optimizer.lr=-1: the learning rate must be > 0"),
    "negative penalty": (
        ["regularization=l2", "regularization.penalty.l2=-0.1"],
        "regularization.penalty.l2=-0.1: must be >= 0",
    ),
    "negative weight decay": (
        ["optimizer=adamw", "optimizer.weight_decay=-0.01"],
        "optimizer.weight_decay=-0.01",
    ),
    "onecycle without a length": (
        ["scheduler=onecycle", "trainer.max_epochs=-1"],
        "scheduler.total_steps=null needs the run's length",
    ),
    "unknown early-stopping monitor": (
        ["callbacks.early_stopping.monitor=val/accuracy"],
        "callbacks.early_stopping.monitor=val/accuracy: allowed: val/loss, val/acc",
    ),
    "bad clip algorithm": (
        ["regularization.gradient_clip_algorithm=max"],
        "regularization.gradient_clip_algorithm=max: allowed: norm, value",
    ),
    "bad fold": (["data.fold=5", "data.num_folds=5"], "data.fold=5, data.num_folds=5"),
    "lr not a number": (["optimizer.lr=abc"], "optimizer.lr=abc: must be a number"),
    "batch size not whole": (["data.batch_size=1.5"], "data.batch_size=1.5: must be a whole"),
    "no epochs": (["trainer.max_epochs=0"], "trainer.max_epochs=0 trains nothing"),
    "no training batches": (["trainer.limit_train_batches=0"], "limit_train_batches=0 trains"),
    "csv keys unset": (
        ["data=csv"],
        "data.source.path, data.source.target not set (???): add data.source.path=VALUE "
        "data.source.target=VALUE to the command",
    ),
    "image root unset": (["data=image_folder"], "data.source.root not set (???)"),
    "text csv keys unset": (
        ["data=text_csv"],
        "data.source.path, data.source.target, data.source.text not set (???)",
    ),
    "no tokens kept": (
        ["tokenizer=words", "tokenizer.max_length=0"],
        "tokenizer.max_length=0: must be >= 1 (tokens kept per text)",
    ),
    "word vectors missing": (
        ["experiment=text_bag", "word_vectors.path=nope.vec"],
        "word_vectors.path=nope.vec does not exist: name a GloVe or word2vec text file",
    ),
    "csv file missing": (
        ["data=csv", "data.source.path=nope.csv", "data.source.target=y"],
        "data.source.path=nope.csv does not exist",
    ),
    "csv path a folder": (
        ["data=csv", "data.source.path=/", "data.source.target=y"],
        "data.source.path=/ is a folder",
    ),
    "image root missing": (
        ["data=image_folder", "data.source.root=/nope"],
        "data.source.root=/nope is not a folder",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_value_stops_before_training(case: str) -> None:
    args, message = BAD[case]
    result = run_quick(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "invalid config" in result.stderr
    assert "Traceback" not in result.stderr
    assert "torch" not in imported_modules(result.stderr)
    lines = [line for line in result.stderr.splitlines() if "|" not in line]  # not importtime
    assert len(lines) == 1 and lines[0].startswith("tunelab: invalid config: "), lines


def config_file_keys() -> set[str]:
    """Every dotted key the YAML files of conf/ set: a group's file under its group's name."""
    import yaml

    from tunelab import CONF
    from tunelab.training.rerun import _flat

    keys: set[str] = set()
    for path in CONF.rglob("*.yaml"):
        group = path.parent.relative_to(CONF).parts
        if group and group[0] == "hydra":
            continue
        content = yaml.safe_load(path.read_text()) or {}
        prefix = ".".join(group[:1])  # conf/data/source/x.yaml is data.source (its package)
        if group[1:]:
            prefix = ".".join(group)
        if path.name == "data_shared.yaml":  # included as /data_shared@_here_ by conf/data/*
            prefix = "data"
        for key, _ in _flat(content):
            keys.add(f"{prefix}.{key}" if prefix else key)
    return keys


def test_the_schema_names_keys_the_config_files_set() -> None:
    """The checks read one declared schema (tunelab.jobs.schema): a key renamed or removed in
    conf/ without it fails here, not silently in a check that no longer runs."""
    from tunelab.jobs.schema import EXPORT, TRAIN

    keys = config_file_keys()
    missing = [key for schema in (TRAIN, EXPORT) for key in schema if key not in keys]
    assert not missing, missing


def test_the_export_variants_are_declared_once() -> None:
    """conf/export.yaml makes every variant tunelab.export declares, in its order."""
    import yaml

    from tunelab import CONF
    from tunelab.export import VARIANTS

    config = yaml.safe_load((CONF / "export.yaml").read_text())
    assert tuple(config["export"]["variants"]) == VARIANTS
