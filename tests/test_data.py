"""Every data source loads, splits, standardises, augments and serves as promised."""

import numpy as np
import pytest
import torch

from tests.conftest import TINY, compose_config, run_in_process, store_uri, train_in_process
from tests.data_factory import write_cifar10, write_csv, write_idx, write_png_folder
from tunelab.data.datamodule import build_datamodule
from tunelab.errors import DataError


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_idx(root / "MNIST" / "raw")
    write_idx(root / "FashionMNIST" / "raw")
    write_cifar10(root)
    write_png_folder(root / "pets")
    write_csv(root / "table.csv")
    return root


def source_overrides(data_dir) -> dict[str, list[str]]:
    return {
        "digits": ["data=digits"],
        "mnist": ["data=mnist"],
        "fashion_mnist": ["data=fashion_mnist"],
        "cifar10": ["data=cifar10"],
        "image_folder": [
            "data=image_folder",
            f"data.source.root={data_dir}/pets",
            "data.source.size=[16,16]",
        ],
        "csv": [
            "data=csv",
            f"data.source.path={data_dir}/table.csv",
            "data.source.target=species",
            "data.source.categorical=[colour]",
            "data.source.drop=[id]",
        ],
    }


EXPECTED = {  # input shape, classes, examples in all
    "digits": ((1, 8, 8), 10, 1797),
    "mnist": ((1, 28, 28), 10, 260),
    "fashion_mnist": ((1, 28, 28), 10, 260),
    "cifar10": ((3, 32, 32), 10, 250),
    "image_folder": ((3, 16, 16), 3, 36),
    "csv": ((4,), 3, 120),  # size, weight, colour=green, colour=red
}
SOURCES = sorted(EXPECTED)


def datamodule(data_dir, source: str, *extra: str):
    cfg = compose_config(
        [*source_overrides(data_dir)[source], f"paths.data_dir={data_dir}", *extra]
    )
    return build_datamodule(cfg.data)


@pytest.mark.parametrize("source", SOURCES)
def test_source_loads_with_disjoint_covering_repeatable_splits(data_dir, source: str) -> None:
    dm = datamodule(data_dir, source)
    shape, classes, total = EXPECTED[source]
    assert dm.input_shape == shape and dm.num_outputs == classes
    index = {k: set(v.tolist()) for k, v in dm.index.items()}
    assert sum(len(v) for v in index.values()) == total
    assert set.union(*index.values()) == set(range(total))
    assert not (
        index["train"] & index["val"]
        or index["train"] & index["test"]
        or index["val"] & index["test"]
    )
    for split in dm.index:
        x, y = dm.split(split)
        assert x.shape[1:] == shape and len(x) == len(y) == len(index[split])
        assert y.dtype == torch.int64 and y.min() >= 0 and y.max() < classes
    # One copy of the examples (a table adds its standardised columns): each split is served
    # from it by its rows.
    assert (dm.x.data_ptr() == dm.data.x.data_ptr()) == (source != "csv")
    xs, ys = zip(*dm.loader("val"), strict=True)
    x, y = dm.split("val")
    assert torch.equal(torch.cat(ys), y) and torch.allclose(torch.cat(xs), dm.transforms["val"](x))
    if source != "csv":  # channel statistics summed in chunks: those of the training split
        train_x = dm.split("train")[0]
        assert torch.allclose(dm.normalize.mean.flatten(), train_x.mean(dim=(0, 2, 3)), atol=1e-5)
        assert torch.allclose(dm.normalize.std.flatten(), train_x.std(dim=(0, 2, 3)), atol=1e-5)
    again = datamodule(data_dir, source)
    assert all(torch.equal(dm.index[k], again.index[k]) for k in dm.index)
    other_seed = datamodule(data_dir, source, "data.split.seed=7")
    assert not torch.equal(dm.index["val"], other_seed.index["val"])
    summary = dm.summary
    assert summary["num_classes"] == classes and len(summary["fingerprint"]) == 12


@pytest.mark.parametrize("source", SOURCES)
def test_k_fold_validation_partitions_the_non_test_data(data_dir, source: str) -> None:
    folds = [datamodule(data_dir, source, "data.num_folds=3", f"data.fold={k}") for k in range(3)]
    vals = [set(f.index["val"].tolist()) for f in folds]
    dev = set(folds[0].index["train"].tolist()) | vals[0]
    assert set.union(*vals) == dev and sum(map(len, vals)) == len(dev)
    assert all(torch.equal(f.index["test"], folds[0].index["test"]) for f in folds)


def test_fixed_test_files_stay_the_test_split(data_dir) -> None:
    dm = datamodule(data_dir, "mnist")
    assert dm.index["test"].tolist() == list(range(200, 260))  # the t10k files


def test_split_folders_are_kept(tmp_path) -> None:
    write_png_folder(tmp_path / "train", per_class=6)
    write_png_folder(tmp_path / "test", per_class=2)
    cfg = compose_config(["data=image_folder", f"data.source.root={tmp_path}"])
    dm = build_datamodule(cfg.data)
    assert len(dm.index["test"]) == 6 and sorted(dm.index["test"].tolist()) == list(range(18, 24))
    assert len(dm.index["train"]) + len(dm.index["val"]) == 18


def test_csv_scaler_sees_only_training_rows(data_dir) -> None:
    import pandas as pd

    dm = datamodule(data_dir, "csv")
    table = pd.read_csv(data_dir / "table.csv")
    columns = dm.data.info["columns"]
    size = columns.index("size")
    train_rows = table["size"].to_numpy()[dm.index["train"].numpy()]
    val_rows = table["size"].to_numpy()[dm.index["val"].numpy()]
    mean, std = train_rows.mean(), train_rows.std(ddof=1)
    np.testing.assert_allclose(
        dm.split("val")[0][:, size].numpy(), (val_rows - mean) / std, rtol=1e-4
    )
    everything = table["size"].to_numpy()
    assert abs(everything.mean() - mean) > 1e-6  # so statistics of all rows would give other values
    train_x = dm.split("train")[0][:, size]
    assert abs(train_x.mean().item()) < 1e-5 and abs(train_x.std().item() - 1) < 1e-4
    onehot = [columns.index("colour_green"), columns.index("colour_red")]
    assert set(dm.split("train")[0][:, onehot].unique().tolist()) == {0.0, 1.0}  # not standardised
    assert dm.data.info["labels"] == {"setosa": 0, "versicolor": 1, "virginica": 2}


def first_batches(dm, split: str, count: int = 2):
    loader = dm.loader(split, shuffle=split == "train")
    batches = []
    for x, y in loader:
        batches.append((x.clone(), y.clone()))
        if len(batches) == count:
            break
    return batches


def test_augmentation_changes_training_batches_only(data_dir) -> None:
    plain = datamodule(data_dir, "cifar10", "data.augment=null")
    augmented = datamodule(data_dir, "cifar10")  # random crop, flip, colour jitter
    torch.manual_seed(0)
    for split in ("train", "val", "test"):
        for (xa, ya), (xb, yb) in zip(
            first_batches(plain, split), first_batches(augmented, split), strict=True
        ):
            assert torch.equal(ya, yb)
            assert torch.equal(xa, xb) != (split == "train"), split


def test_augmentation_draws_per_image(data_dir) -> None:
    from torchvision.transforms import v2

    from tunelab.data.augment import PerSample

    batch = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4).repeat(32, 1, 1, 1)
    flipped = PerSample(v2.RandomHorizontalFlip())(batch)
    changed = [(not torch.equal(a, b)) for a, b in zip(flipped, batch, strict=True)]
    assert any(changed) and not all(changed)


@pytest.mark.parametrize("source", ["digits", "cifar10", "csv"])
def test_in_memory_and_dataloader_serve_the_same_batches(data_dir, source: str) -> None:
    fast = datamodule(data_dir, source, "data.in_memory=true", "data.augment=null")
    loader = datamodule(
        data_dir, source, "data.in_memory=false", "data.num_workers=0", "data.augment=null"
    )
    for split in ("train", "val"):
        for epoch in range(2):  # each epoch reshuffles the same way on both paths
            a, b = first_batches(fast, split, 3), first_batches(loader, split, 3)
            for (xa, ya), (xb, yb) in zip(a, b, strict=True):
                assert torch.equal(ya, yb) and torch.allclose(xa, xb), (split, epoch)


@pytest.mark.parametrize("source", SOURCES)
def test_each_source_trains_and_lands_in_the_store(data_dir, tmp_path, capsys, source: str) -> None:
    """The job and the task in this process (train.py itself runs in test_train_run)."""
    from mlflow import MlflowClient

    model = "model=mlp" if source == "csv" else "model.channels=[8]"
    args = [
        *source_overrides(data_dir)[source],
        f"paths.data_dir={data_dir}",
        model,
        "model.hidden_dim=16",
        "trainer.max_epochs=1",
    ]
    job = train_in_process(args, tmp_path)
    out = capsys.readouterr().out
    assert "test/acc" in out and f"MLflow run: {job.run.run_id}" in out
    run = MlflowClient(store_uri(tmp_path)).get_run(job.run.run_id)
    assert run.info.status == "FINISHED" and "test/acc" in run.data.metrics
    assert run.data.tags["data.name"].split(":")[0] == source


BAD = {
    "missing mnist files": (["data=mnist"], "MNIST files not found"),
    "missing image folder": (
        ["data=image_folder", "data.source.root=nowhere"],
        "image folder nowhere does not exist",
    ),
    "missing csv file": (
        ["data=csv", "data.source.path=none.csv", "data.source.target=y"],
        "CSV file none.csv does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_missing_inputs_name_the_path(tmp_path, case: str) -> None:
    overrides, message = BAD[case]
    cfg = compose_config([*overrides, f"paths.data_dir={tmp_path}"])
    with pytest.raises(DataError, match=message):
        build_datamodule(cfg.data)


def test_missing_mnist_says_how_to_get_it(tmp_path) -> None:
    cfg = compose_config(["data=mnist", f"paths.data_dir={tmp_path}"])
    with pytest.raises(DataError) as error:
        build_datamodule(cfg.data)
    assert str(tmp_path / "MNIST" / "raw") in str(error.value) and "data.download=true" in str(
        error.value
    )


def test_empty_class_folder(tmp_path) -> None:
    write_png_folder(tmp_path / "pets")
    (tmp_path / "pets" / "empty").mkdir()
    cfg = compose_config(["data=image_folder", f"data.source.root={tmp_path}/pets"])
    with pytest.raises(DataError, match="class folder .*empty holds no images"):
        build_datamodule(cfg.data)


def test_single_class(tmp_path) -> None:
    write_png_folder(tmp_path / "pets", classes=("cat",))
    cfg = compose_config(["data=image_folder", f"data.source.root={tmp_path}/pets"])
    with pytest.raises(DataError, match="single class"):
        build_datamodule(cfg.data)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["data.source.target=kind"],
            "no column 'kind' \\(data.source.target\\); its columns are id, size",
        ),
        (
            ["data.source.target=species", "data.source.drop=[id]"],
            "column 'colour' is not numeric.*data.source.categorical",
        ),
    ],
)
def test_bad_csv_columns(data_dir, extra: list[str], message: str) -> None:
    cfg = compose_config(["data=csv", f"data.source.path={data_dir}/table.csv", *extra])
    with pytest.raises(DataError, match=message):
        build_datamodule(cfg.data)


@pytest.mark.process  # a real job process
def test_a_data_error_ends_a_run_with_one_message(tmp_path) -> None:
    result = run_in_process([*TINY, "data=mnist"], tmp_path, check=False)
    assert result.returncode != 0
    assert "tunelab: MNIST files not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("shuffle", [True, False])
def test_in_memory_batches_shard_across_processes(shuffle: bool) -> None:
    """Under DDP each process serves its own equal share, together every example (as
    DistributedSampler deals a DataLoader's); shuffled shards agree on one permutation."""
    from tunelab.data.batches import TensorBatches

    x, y = torch.arange(101).float().unsqueeze(1), torch.arange(101)
    shards = [
        torch.cat([b[1] for b in TensorBatches(x, y, 8, shuffle, seed=3, rank=r, world_size=3)])
        for r in range(3)
    ]
    assert [len(s) for s in shards] == [34, 34, 34]
    assert len(TensorBatches(x, y, 8, rank=1, world_size=3)) == 5
    seen = torch.cat(shards)
    assert set(seen.tolist()) == set(range(101))  # all served, 1 wrapped around to pad
    assert len(set(shards[0].tolist()) & set(shards[1].tolist())) == 0
