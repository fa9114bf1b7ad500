"""Starting from trained weights, freezing part of the network, and averaged weights: what a
run starts from, what trains when, and which weights it validates, tests and ships."""

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import store_uri, train_in_process, training_refused
from tunelab.inference.checkpoint import load_model
from tunelab.models.cnn import CNN
from tunelab.training.initial_weights import adapt_channels

DIGITS = (1, 8, 8)


def best_checkpoint(root: Path) -> Path:
    return root / "outputs" / "in-process" / "checkpoints" / "best.ckpt"


def history(root: Path, run_id: str, metric: str) -> list[float]:
    from mlflow import MlflowClient

    client = MlflowClient(store_uri(root))
    return [
        m.value for m in sorted(client.get_metric_history(run_id, metric), key=lambda m: m.step)
    ]


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    """A CNN trained on digits for 4 epochs, in this process: (root, job)."""
    root = tmp_path_factory.mktemp("source")
    return root, train_in_process(["trainer.max_epochs=4"], root)


def test_a_run_from_another_runs_weights_starts_where_that_run_ended(source_run, tmp_path):
    from mlflow import MlflowClient

    root, source = source_run
    source_best = max(history(root, source.run.run_id, "val/acc"))
    # The run id, in the same store; a learning rate so small that the first epoch barely moves.
    overrides = [
        f"init_from={source.run.run_id}",
        f"tracking.uri={store_uri(root)}",
        "optimizer.lr=1e-7",
        "trainer.max_epochs=1",
    ]
    job = train_in_process(overrides, tmp_path)
    first = history(root, job.run.run_id, "val/acc")[0]
    assert first == pytest.approx(source_best, abs=0.02)  # a fresh CNN is near 0.1 here
    tags = MlflowClient(store_uri(root)).get_run(job.run.run_id).data.tags
    assert tags["init_from"] == source.run.run_id and tags["init.reinitialised"] == "0"
    assert tags["init.normalize"] == "source"
    # The new checkpoint standardises as the source did (evaluation and export read it there).
    source_model = load_model(best_checkpoint(root))
    assert (
        load_model(best_checkpoint(tmp_path)).metadata["normalize"]
        == source_model.metadata["normalize"]
    )


def test_the_head_starts_new_for_other_classes_and_a_stem_adapts_its_channels(tmp_path):
    torch.manual_seed(0)
    other = CNN((3, 8, 8), 5, channels=[32, 64], hidden_dim=128)  # RGB, 5 classes
    path = tmp_path / "rgb5.pt"
    torch.save(other.state_dict(), path)
    job = train_in_process(
        [f"init_from={path}", "trainer.max_epochs=1", "optimizer.lr=1e-9"], tmp_path
    )
    from mlflow import MlflowClient

    logged = MlflowClient(store_uri(tmp_path)).download_artifacts(
        job.run.run_id, "init_from.json", str(tmp_path)
    )
    report = json.loads(Path(logged).read_text())
    head = [n for n in report["reinitialised"]]
    assert head and all(n.startswith("head.") for n in head)  # 5 outputs there, 10 here
    stem = next(n for n in report["adapted"])
    assert stem.endswith("weight") and stem.startswith("features.0")
    network = load_model(best_checkpoint(tmp_path)).network
    torch.testing.assert_close(  # one grey channel answers as the three colour ones did
        network.state_dict()[stem],
        other.state_dict()[stem].sum(dim=1, keepdim=True),
        atol=1e-6,
        rtol=0,
    )
    grey_to_rgb = adapt_channels(torch.ones(4, 1, 3, 3), torch.Size([4, 3, 3, 3]))
    torch.testing.assert_close(grey_to_rgb, torch.full((4, 3, 3, 3), 1 / 3))
    assert adapt_channels(torch.ones(4, 2, 3, 3), torch.Size([4, 3, 3, 3])) is None


def test_frozen_modules_do_not_train_until_their_epoch(tmp_path):
    torch.manual_seed(0)
    start = CNN(DIGITS, 10)
    path = tmp_path / "start.pt"
    torch.save(start.state_dict(), path)
    initial = start.state_dict()
    common = [f"init_from={path}", "freeze.modules=[features]"]
    frozen_root, thawed_root = tmp_path / "frozen", tmp_path / "thawed"
    frozen_root.mkdir(), thawed_root.mkdir()
    train_in_process([*common, "trainer.max_epochs=2"], frozen_root)
    frozen = load_model(best_checkpoint(frozen_root)).network.state_dict()
    for name, value in frozen.items():
        if name.startswith("features."):  # weights and batch-norm statistics alike
            assert torch.equal(value, initial[name]), name
        elif name.endswith("weight"):
            assert not torch.equal(value, initial[name]), name
    job = train_in_process(
        [*common, "freeze.until_epoch=1", "freeze.lr_factor=0.5", "trainer.max_epochs=3"],
        thawed_root,
    )
    thawed = load_model(thawed_root / "outputs" / "in-process" / "checkpoints" / "last.ckpt")
    assert not torch.equal(
        thawed.network.state_dict()["features.0.0.weight"], initial["features.0.0.weight"]
    )
    rates = history(thawed_root, job.run.run_id, "lr/features")
    assert rates and all(r == pytest.approx(0.5e-3) for r in rates)  # half the lr, from epoch 1
    assert len(rates) == 2 and len(history(thawed_root, job.run.run_id, "lr")) == 3


def test_the_ema_run_validates_tests_and_ships_its_averaged_weights(tmp_path):
    from mlflow import MlflowClient

    job = train_in_process(["callbacks=ema", "trainer.max_epochs=2"], tmp_path)
    checkpoint = torch.load(best_checkpoint(tmp_path), weights_only=True)
    averaged, raw = checkpoint["state_dict"], checkpoint["current_model_state"]
    name = "network.features.0.0.weight"
    assert not torch.equal(averaged[name], raw[name])  # the average differs from the weights
    shipped = load_model(best_checkpoint(tmp_path)).network.state_dict()
    assert torch.equal(shipped[name.removeprefix("network.")], averaged[name])
    tags = MlflowClient(store_uri(tmp_path)).get_run(job.run.run_id).data.tags
    assert tags["weight_averaging"] == "ema"


def test_swa_validates_the_raw_weights_until_it_has_an_average(tmp_path):
    from mlflow import MlflowClient

    overrides = ["callbacks=swa", "callbacks.weight_averaging.start_epoch=1"]
    job = train_in_process([*overrides, "trainer.max_epochs=3"], tmp_path)
    assert (
        MlflowClient(store_uri(tmp_path)).get_run(job.run.run_id).data.tags["weight_averaging"]
        == "swa"
    )
    first = history(tmp_path, job.run.run_id, "val/acc")[0]
    assert first > 0.5  # epoch 0 validates the trained weights, not the untrained start
    last = torch.load(
        tmp_path / "outputs" / "in-process" / "checkpoints" / "last.ckpt", weights_only=True
    )
    assert "current_model_state" in last  # from epoch 1 on, checkpoints hold the average


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["init_from=nothing/here.ckpt"], "init_from=nothing/here.ckpt: not a run id"),
        (
            ["init_from=0123456789abcdef0123456789abcdef"],
            "init_from=0123456789abcdef0123456789abcdef: no such run",
        ),
        (
            ["freeze.modules=[backbone]"],
            "freeze.modules: backbone is not a module of CNN; its modules are features, head",
        ),
        (
            ["init_from=torchvision:IMAGENET1K_V1"],
            "torchvision's weights are for model=torchvision",
        ),
        (["model=mlp", "init_from=TABLE"], "none of its 1 tensors fit this network"),
    ],
)
def test_a_start_that_cannot_work_is_one_line_before_training(tmp_path, overrides, message):

    if "init_from=TABLE" in overrides:  # a state dict of another network altogether
        torch.save({"encoder.weight": torch.ones(3, 3)}, tmp_path / "other.pt")
        overrides = ["model=mlp", f"init_from={tmp_path / 'other.pt'}"]
    assert message in training_refused(overrides, tmp_path)


def test_torchvision_weights_start_a_torchvision_network_with_their_statistics(
    tmp_path, monkeypatch
):
    """torchvision's published weights, from torch's cache (placed there: tests download
    nothing): matched into model=torchvision, its head started new for 3 classes, the data
    standardised with ImageNet's statistics, which the checkpoint keeps."""
    from mlflow import MlflowClient
    from torchvision.models import get_model, get_model_weights

    from tests.data_factory import write_png_folder

    weights = get_model_weights("resnet18")["IMAGENET1K_V1"]
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    published = get_model("resnet18").state_dict()
    torch.save(published, cache / weights.url.rsplit("/", 1)[-1])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    write_png_folder(tmp_path / "images", per_class=6)
    overrides = [
        "data=image_folder",
        f"data.source.root={tmp_path / 'images'}",
        "data.split.val=0.25",
        "data.split.test=0.25",
        "model=torchvision",
        "init_from=torchvision:IMAGENET1K_V1",
        "trainer.max_epochs=1",
    ]
    job = train_in_process(overrides, tmp_path)
    tags = MlflowClient(store_uri(tmp_path)).get_run(job.run.run_id).data.tags
    assert tags["init.reinitialised"] == "2" and tags["init.normalize"] == "source"  # fc only
    model = load_model(best_checkpoint(tmp_path))
    mean = torch.tensor(model.metadata["normalize"]["mean"]).flatten()  # per channel [3, 1, 1]
    torch.testing.assert_close(mean, torch.tensor(weights.transforms().mean))
    conv = model.network.state_dict()["body.conv1.weight"]
    assert conv.shape == published["conv1.weight"].shape  # RGB data: the stem as published
    assert model.output_names == ["cat", "dog", "fox"]


def test_a_source_of_other_classes_gives_a_new_output_layer_even_of_the_same_shape():
    from tunelab.training.initial_weights import StartingWeights, load_matching, output_layer

    torch.manual_seed(0)
    source = CNN(DIGITS, 2)
    tensors = source.state_dict()
    same = load_matching(
        CNN(DIGITS, 2), StartingWeights("s", tensors, None, ["0", "1"]), ["0", "1"]
    )
    assert not same.reinitialised
    network = CNN(DIGITS, 2)
    other = load_matching(network, StartingWeights("s", tensors, None, ["0", "1"]), ["cat", "dog"])
    last = output_layer(network)  # the last linear layer: weight and bias start new
    assert last.startswith("head.") and other.reinitialised == [f"{last}.weight", f"{last}.bias"]
    assert not torch.equal(network.state_dict()[f"{last}.weight"], tensors[f"{last}.weight"])
    assert torch.equal(network.state_dict()["features.0.0.weight"], tensors["features.0.0.weight"])
