"""python export.py: each format matches the PyTorch model, quantized, sparse and slim variants keep
their accuracy, pruning removes what it says, the export run and its sweep are in the store."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import (
    CONF,
    in_store,
    job_refused,
    run_entry,
    run_in_process,
    script_refused,
    store_uri,
    train_in_process,
)
from tunelab.errors import ConfigError
from tunelab.export import measure
from tunelab.export.sparsify import (
    conv_blocks,
    linears,
    make_permanent,
    slim_cnn,
    slim_mlp,
    zero_smallest_weights,
)
from tunelab.inference.checkpoint import load_model
from tunelab.models.cnn import CNN
from tunelab.models.mlp import MLP

# Latency timed briefly: the tests check the columns are there, not the figures.
QUICK = ["latency.calls=2", "latency.warmup=1", "latency.batch_sizes=[1,16]"]
VARIANTS = ["onnx", "pt2", "int8_dynamic", "int8_static", "sparse", "slim"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A digits CNN and a digits MLP trained in this process: {model: (root, run id, checkpoint)}."""
    models = {}
    for model in ("cnn", "mlp"):
        root = tmp_path_factory.mktemp(model)
        job = train_in_process([f"model={model}", "trainer.max_epochs=4"], root)
        checkpoint = root / "outputs" / "in-process" / "checkpoints" / "best.ckpt"
        models[model] = (root, job.run.run_id, checkpoint)
    return models


def compose_export(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("export", overrides=overrides)


@pytest.mark.process  # a real job process
def test_export_writes_checks_measures_and_logs_every_variant(trained, tmp_path) -> None:
    """The real entry point on the CNN: one run beside the training run, a row per variant
    with the sizes of the logged files, and files that load and predict as the table says."""
    import onnxruntime as ort
    from mlflow import MlflowClient

    root, run_id, checkpoint = trained["cnn"]
    result = run_entry([f"run_id={run_id}", *QUICK], root, script="export.py")
    assert "int8_static" in result.stdout and "MLflow run:" in result.stdout
    assert "Quantization parameters for tensor" not in result.stdout  # ONNX Runtime's, harmless
    client = MlflowClient(store_uri(root))
    source = client.get_run(run_id)
    (run,) = client.search_runs(
        [source.info.experiment_id], filter_string="tags.`tunelab.job` = 'export'"
    )
    assert run.info.status == "FINISHED"
    assert run.data.tags["tunelab.source_run"] == run_id
    assert run.data.params["sparse.fraction"] == "0.5"
    folder = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "run")))
    with open(folder / "variants.csv") as file:
        rows = {row["variant"]: row for row in csv.DictReader(file)}
    assert list(rows) == VARIANTS
    (shown,) = [line for line in result.stdout.splitlines() if line.startswith("exported files: ")]
    assert all(row["file"] in shown for row in rows.values()) and "/model/ (" in shown  # where
    logged = {a.path: a.file_size for a in client.list_artifacts(run.info.run_id, "model")}
    for name, row in rows.items():
        assert logged[f"model/{row['file']}"] == pytest.approx(float(row["size_kib"]) * 1024)
        assert run.data.metrics[f"{name}/test_acc"] == pytest.approx(float(row["test_acc"]))
        assert float(row["test_acc"]) > 0.5  # ten classes: chance is 0.1
    assert {"variants.md", "tradeoff.png"} <= {
        a.path for a in client.list_artifacts(run.info.run_id)
    }
    # The float files are the trained model: its test accuracy, its probabilities.
    assert float(rows["onnx"]["test_acc"]) == pytest.approx(
        source.data.metrics["test/acc"], abs=1e-6
    )
    assert float(rows["int8_static"]["size_ratio"]) < 0.5
    assert float(rows["slim"]["params"]) < float(rows["onnx"]["params"])
    assert float(rows["sparse"]["nonzero"]) < 0.6 * float(rows["onnx"]["nonzero"])
    model = load_model(checkpoint)
    images = digits_pixels()[:200]
    expected = model.predict(torch.from_numpy(images)).numpy()
    session = ort.InferenceSession(str(folder / "model" / "model.onnx"))
    served = session.run(None, {"input": images})[0]
    np.testing.assert_allclose(served, expected, atol=1e-4)
    program = torch.export.load(str(folder / "model" / "model.pt2")).module()
    np.testing.assert_allclose(
        program(torch.from_numpy(images)).detach().numpy(), expected, atol=1e-4
    )
    for name in ("int8_dynamic", "int8_static"):
        session = ort.InferenceSession(str(folder / "model" / f"model.{name}.onnx"))
        probabilities = session.run(None, {"input": images})[0]
        assert probabilities.shape == (200, 10)
        assert (probabilities.argmax(1) == expected.argmax(1)).mean() > 0.9
    # The sparse and slim networks are tunelab checkpoints again (eval.py reads them).
    slim = load_model(folder / "model" / "model.slim.ckpt")
    assert slim.config["model"]["channels"] == [16, 32]
    sparse = load_model(folder / "model" / "model.sparse.ckpt")
    assert measure.zero_fraction(sparse.network) == pytest.approx(0.5, abs=0.01)


def digits_pixels() -> np.ndarray:
    """The digits as the data source returns them: [N, 1, 8, 8] float32 in [0, 1]."""
    from sklearn.datasets import load_digits

    return (load_digits().images[:, None] / 16.0).astype(np.float32)


def test_the_mlp_exports_and_its_variants_keep_their_accuracy(trained, tmp_path) -> None:
    """The task itself, in this process, on the MLP: every variant made and measured."""
    from omegaconf import OmegaConf

    from tunelab.data.datamodule import build_datamodule
    from tunelab.export.variants import export

    _, _, checkpoint = trained["mlp"]
    model = load_model(checkpoint)
    datamodule = build_datamodule(OmegaConf.create(model.config["data"]))
    cfg = compose_export([*QUICK, "sparse.fraction=0.7", "export.finetune_epochs=1"])
    rows = {r["variant"]: r for r in export(cfg, model, datamodule, tmp_path)}
    assert list(rows) == VARIANTS
    float_acc = rows["onnx"]["test_acc"]
    assert rows["onnx"]["max_diff"] <= 1e-4 and rows["pt2"]["max_diff"] <= 1e-4
    for name in ("int8_dynamic", "int8_static", "sparse", "slim"):
        assert rows[name]["test_acc"] > float_acc - 0.1, name
    assert rows["sparse"]["nonzero"] <= 0.31 * rows["sparse"]["params"] + 1000  # biases stay
    assert load_model(tmp_path / "model.slim.ckpt").config["model"]["hidden_dim"] == 128
    for row in rows.values():
        assert row["b1_ms_onnxruntime"] > 0 or row["variant"] == "pt2"
        assert not math.isnan(row["b16_ms_pytorch"]) or row["variant"].startswith("int8")


@pytest.mark.parametrize("sparsity", [0.3, 0.8])
def test_zeroing_the_smallest_weights_zeroes_that_fraction_of_the_weights(sparsity: float) -> None:
    torch.manual_seed(0)
    network = MLP((64,), 10, hidden_dim=32)
    sparse = make_permanent(zero_smallest_weights(network, sparsity))
    assert measure.zero_fraction(sparse) == pytest.approx(sparsity, abs=0.005)
    assert measure.zero_fraction(network) == 0  # the original is left as it was
    assert not any("weight_orig" in name for name, _ in sparse.named_parameters())


def build(model: type, shape: tuple[int, ...]):
    return lambda cfg: model(shape, 10, **{k: v for k, v in cfg.items() if k != "_target_"}).eval()


def randomised(network: nn.Module) -> nn.Module:
    """Batch norm statistics that are not the identity, so that slicing them is tested."""
    torch.manual_seed(1)
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 2)
            module.bias.data.uniform_(-1, 1)
    return network.eval()


def test_removing_channels_makes_a_smaller_cnn_that_computes_the_same_as_masking() -> None:
    """Removing channels is exact: the smaller CNN equals the original with those channels'
    outputs forced to zero."""
    torch.manual_seed(0)
    cnn = randomised(CNN((1, 8, 8), 10, channels=(8, 16), hidden_dim=12))
    cfg = {"channels": [8, 16], "hidden_dim": 12}
    slim, slim_cfg = slim_cnn(cnn, cfg, 0.5, build(CNN, (1, 8, 8)))
    assert slim_cfg["channels"] == [4, 8]
    assert [conv.out_channels for conv, _ in conv_blocks(slim)] == [4, 8]
    assert measure.parameter_counts(slim)[0] < 0.5 * measure.parameter_counts(cnn)[0]
    masked = randomised(CNN((1, 8, 8), 10, channels=(8, 16), hidden_dim=12))
    masked.load_state_dict(cnn.state_dict())
    with torch.no_grad():  # silence the channels with the weakest filters (L1 norm)
        for conv, norm in conv_blocks(masked):
            dropped = conv.weight.abs().sum(dim=(1, 2, 3)).argsort()[: conv.out_channels // 2]
            norm.weight[dropped], norm.bias[dropped] = 0.0, 0.0
    x = torch.randn(5, 1, 8, 8)
    assert torch.allclose(slim(x), masked(x), atol=1e-5)


def test_removing_units_of_an_mlp_keeps_the_strongest_units_exactly() -> None:
    torch.manual_seed(0)
    mlp = MLP((64,), 10, hidden_dim=16, num_layers=2).eval()
    same, _ = slim_mlp(mlp, {"hidden_dim": 16, "num_layers": 2}, 0.0, build(MLP, (64,)))
    x = torch.randn(7, 64)
    assert torch.allclose(same(x), mlp(x))  # nothing removed: the same network
    slim, cfg = slim_mlp(mlp, {"hidden_dim": 16, "num_layers": 2}, 0.25, build(MLP, (64,)))
    assert cfg["hidden_dim"] == 12 and [m.out_features for m in linears(slim)] == [12, 12, 10]
    with torch.no_grad():  # the original with the removed units silenced computes the same
        for layer, kept in zip(linears(mlp)[:-1], linears(slim)[:-1], strict=True):
            norms = layer.weight.abs().sum(dim=1)
            dropped = norms.argsort()[: layer.out_features - kept.out_features]
            layer.weight[dropped], layer.bias[dropped] = 0.0, 0.0
    assert torch.allclose(slim(x), mlp(x), atol=1e-6)


def test_quantizing_an_operator_onnx_runtime_cannot_is_refused() -> None:
    from tunelab.export.quantize import check_quantizable

    cfg = compose_export(["quantize.op_types=[Conv,Softmax]"]).quantize
    with pytest.raises(ConfigError, match="cannot quantize Softmax"):
        check_quantizable(cfg, ["dynamic"])
    check_quantizable(
        compose_export(["quantize.op_types=[Conv,Gemm]"]).quantize, ["dynamic", "static"]
    )


def test_without_the_export_extra_export_names_it(monkeypatch) -> None:
    import importlib.util

    from tunelab.jobs.checks import export_config_error

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real(name, *a),
    )
    problem = export_config_error(compose_export(["ckpt_path=x"]))
    assert problem is not None and "pip install -e '.[export]'" in problem


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sparse.fraction=1.0"], "sparse.fraction=1.0: must be in [0, 1)"),
        (["export.variants=[onnx,tflite]"], "export.variants: unknown tflite"),
        (["run_id=0123456789abcdef"], "run_id=0123456789abcdef: no such run"),
        (["RUN", "quantize.op_types=[Softmax]"], "cannot quantize Softmax"),
    ],
)
def test_bad_export_input_is_one_line_and_no_run(trained, args, message) -> None:
    from mlflow import MlflowClient

    root, run_id, checkpoint = trained["mlp"]
    args = [a.replace("RUN", f"run_id={run_id}") for a in args]
    if not any(a.startswith("run_id") for a in args):
        args.append(f"ckpt_path={checkpoint}")
    client = MlflowClient(store_uri(root))
    experiments = [e.experiment_id for e in client.search_experiments()]
    before = len(client.search_runs(experiments))
    if "tflite" in message:  # export.py itself (stopped before torch loads): stderr is one line
        assert message in script_refused(args, root, "export.py")
    else:  # the same job in this process
        assert message in job_refused("export", [*in_store(root), *args], root / "refused")
    assert len(client.search_runs(experiments)) == before
    assert not list((root / "refused" / "model").glob("*.onnx"))


@pytest.mark.process  # a real job process
def test_a_sparsity_sweep_is_a_parent_with_a_child_per_trial_and_the_tradeoff(trained) -> None:
    from mlflow import MlflowClient

    root, run_id, _ = trained["mlp"]
    args = ["-m", f"run_id={run_id}", "export.variants=[sparse]", "export.finetune_epochs=0"]
    result = run_in_process(  # 1.5: a bad value, in one trial (issue 30)
        [*args, *QUICK, "sparse.fraction=0.3,0.8,1.5", "tracking.experiment=export-sweep"],
        root,
        script="export.py",
    )
    console = result.stdout + result.stderr  # Hydra's log lines go to stdout
    (line,) = [x for x in console.splitlines() if x.startswith("trial #2 ")]
    assert ": failed: sparse.fraction=1.5: must be in [0, 1)" in line  # one line, not a traceback
    assert "Traceback" not in console
    (best,) = [x for x in console.splitlines() if x.startswith("best trial #")]
    assert ", sparse/test_acc 0." in best  # the variant's metric as measured, no epochs' best
    client = MlflowClient(store_uri(root))
    experiment = client.get_experiment_by_name("export-sweep")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    status = {c.data.tags["sweep.trial"]: c.info.status for c in children}
    assert status == {"0": "FINISHED", "1": "FINISHED", "2": "FAILED"}
    (failed,) = [c for c in children if c.info.status == "FAILED"]
    assert failed.data.tags["error"].startswith("ConfigError: sparse.fraction=1.5")
    nonzero = sorted(
        c.data.metrics["sparse/nonzero"] for c in children if "sparse/nonzero" in c.data.metrics
    )
    assert nonzero[0] < 0.5 * nonzero[1]  # 80 % zeroed against 30 %
    assert parent.data.metrics["trials_finished"] == 2 and parent.data.metrics["trials_failed"] == 1
    files = {a.path for a in client.list_artifacts(parent.info.run_id, "sweep")}
    assert {"sweep/tradeoff.png", "sweep/trials.csv"} <= files


class Branchy(nn.Module):
    """A network whose path depends on its input values: torch.export cannot capture it (the
    test data all take the first path, so a trace of it is right)."""

    def __init__(self) -> None:
        super().__init__()
        self.flat, self.a, self.b = nn.Flatten(), nn.Linear(64, 10), nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flat(x)
        return self.a(x) if x.sum() > -1e9 else self.b(x)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch 2.14 deprecates TorchScript too
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # the trace's one path, checked
def test_a_network_torch_export_cannot_capture_is_one_line_for_onnx_and_torchscript_for_pt2(
    trained, tmp_path
) -> None:
    from omegaconf import OmegaConf

    from tunelab.data.datamodule import build_datamodule
    from tunelab.errors import UserError
    from tunelab.export.variants import export

    model = load_model(trained["mlp"][2])
    model.network = Branchy().eval()
    datamodule = build_datamodule(OmegaConf.create(model.config["data"]))
    with pytest.raises(
        UserError, match=r"cannot be exported to ONNX \(.+\): export.variants=\[pt2\]"
    ):
        export(compose_export([*QUICK, "export.variants=[onnx]"]), model, datamodule, tmp_path)
    (row,) = export(compose_export([*QUICK, "export.variants=[pt2]"]), model, datamodule, tmp_path)
    assert (row["format"], row["file"]) == ("torchscript", "model.torchscript.pt")
    assert row["max_diff"] <= 1e-4 and math.isnan(row["size_ratio"])


def test_the_console_table_shows_the_batch_sizes_timed(capsys) -> None:
    from tunelab.export.pipeline import print_table

    row = {"variant": "onnx", "size_kib": 1.0, "size_ratio": 1.0, "nonzero": 3, "test_acc": 0.9}
    row |= {"test_f1": 0.8, "b8_ms_onnxruntime": 0.1, "b8_ms_pytorch": math.nan}
    print_table([row], "classification")  # latency.batch_sizes=[8]: no batch-1 column to show
    out = capsys.readouterr().out
    assert "b8 ms ORT" in out and "b1 ms" not in out
