"""From a tracked run back to a model: the logged MLflow model, eval.py (evaluate and predict),
the registry and its champion alias, and serving over HTTP."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from scripts.services import free_port
from tests.conftest import (
    TINY,
    in_store,
    job_in_process,
    job_refused,
    run_entry,
    run_in_process,
    script_refused,
    store_uri,
    train_in_process,
)
from tests.data_factory import write_csv, write_png_folder

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it

MODEL_NAME = "digits-model"


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """A real default run whose model is registered as MODEL_NAME: (root, client, run)."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("registered")
    run_in_process(
        [*TINY, "tracking.experiment=models", f"tracking.register_as={MODEL_NAME}"], root
    )
    client = MlflowClient(store_uri(root))
    experiment = client.get_experiment_by_name("models")
    (run,) = client.search_runs([experiment.experiment_id])
    return root, client, run


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as the source gives them: pixels 0..16, [N, 8, 8]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype("float32"), bunch.target


def checkpoint_of(client, run, folder: Path) -> Path:
    return Path(client.download_artifacts(run.info.run_id, "checkpoints/best.ckpt", str(folder)))


def test_the_logged_model_predicts_raw_inputs_as_the_checkpoint(registered, tmp_path) -> None:
    import mlflow

    from tunelab.inference.checkpoint import load_model

    root, client, run = registered
    (output,) = run.outputs.model_outputs
    logged = client.get_logged_model(output.model_id)
    assert logged.source_run_id == run.info.run_id
    linked = {m.key: m.value for m in logged.metrics}
    assert linked["test/acc"] == pytest.approx(run.data.metrics["test/acc"])
    # its test metrics only: not the first epoch's train and val values (MLflow's step 0)
    assert set(linked) == {k for k in run.data.metrics if k.startswith("test/")}
    assert run.data.tags["registered_model"] == f"{MODEL_NAME} version 1"

    mlflow.set_tracking_uri(store_uri(root))
    model = mlflow.pyfunc.load_model(f"models:/{output.model_id}")
    assert model.metadata.signature.inputs.to_dict()[0]["tensor-spec"]["shape"] in (
        [-1, 1, 8, 8],
        (-1, 1, 8, 8),
    )
    images, _ = digits_images()
    served = model.predict(images[:300, None])  # [N, 1, 8, 8] in 0..16
    assert list(served.columns) == [str(c) for c in range(10)]
    checkpoint = load_model(checkpoint_of(client, run, tmp_path))
    expected = checkpoint.predict(torch.from_numpy(images[:300, None]) / 16.0)
    np.testing.assert_allclose(served.to_numpy(), expected.numpy(), atol=1e-5)
    # the input example logged with it: raw pixels, as the source gives them
    example = mlflow.models.Model.load(f"models:/{output.model_id}").load_input_example(
        mlflow.artifacts.download_artifacts(
            f"models:/{output.model_id}", dst_path=str(tmp_path / "m")
        )
    )
    assert np.asarray(example).shape == (5, 1, 8, 8) and np.asarray(example).max() > 1


def eval_run(client, experiment_id: str, task: str) -> list:
    return client.search_runs(
        [experiment_id], filter_string=f"tags.`tunelab.job` = '{task}'", order_by=["start_time"]
    )


def test_eval_by_checkpoint_run_id_and_registry_match_the_training_test_metrics(
    registered, tmp_path
) -> None:
    root, client, run = registered
    checkpoint = checkpoint_of(client, run, tmp_path)
    selectors = [
        f"ckpt_path={checkpoint}",
        f"run_id={run.info.run_id}",
        f"model_uri=models:/{MODEL_NAME}/1",
    ]
    # eval.py itself once; the two other selectors run the same job in this process
    result = run_entry([selectors[1]], root, script="eval.py")
    assert "test/acc" in result.stdout and "MLflow run:" in result.stdout
    for selector in (selectors[0], selectors[2]):
        job = job_in_process("eval", [*in_store(root), selector], tmp_path / selector[:8])
        assert job.results["test/acc"] == pytest.approx(run.data.metrics["test/acc"], abs=1e-5)
    evaluations = eval_run(client, run.info.experiment_id, "evaluate")
    assert len(evaluations) == 3
    for evaluation in evaluations:
        assert evaluation.info.status == "FINISHED"
        assert evaluation.data.tags["tunelab.source_run"] == run.info.run_id
        # named for the run it evaluated, nested under it, with its source and a duration
        # that is the job's (it opens its run only once the model and data are checked)
        assert evaluation.info.run_name == f"eval of {run.info.run_name}"
        assert evaluation.data.tags["mlflow.parentRunId"] == run.info.run_id
        assert "git.commit" in evaluation.data.tags and "mlflow.source.name" in evaluation.data.tags
        for key in ("test/acc", "test/f1", "test/auroc"):
            assert evaluation.data.metrics[key] == pytest.approx(run.data.metrics[key], abs=1e-5)
        files = {a.path for a in client.list_artifacts(evaluation.info.run_id)}
        assert {"per_class.csv", "per_class.md", "confusion_matrix.png", "roc_curves.png"} <= files
    (shell,) = [e for e in evaluations if e.data.tags["mlflow.source.name"].endswith("eval.py")]
    assert shell.info.end_time - shell.info.start_time > 1000  # it imported torch: seconds


def test_predict_on_an_image_folder_writes_the_checkpoints_predictions(
    registered, tmp_path, capsys
) -> None:
    import pandas as pd
    from torchvision.io import write_png

    from tunelab.inference.checkpoint import load_model

    root, client, run = registered
    images, _ = digits_images()
    folder = tmp_path / "new" / "batch"
    folder.mkdir(parents=True)
    pixels = torch.from_numpy(images[:6] * 255 / 16).round().to(torch.uint8)
    for i, image in enumerate(pixels):
        write_png(image[None], str(folder / f"{i}.png"))
    args = ["mode=predict", f"run_id={run.info.run_id}", f"input={tmp_path / 'new'}"]
    job_in_process("eval", [*in_store(root), *args], tmp_path / "out")
    assert "6 predictions written" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "out" / "predictions.csv", dtype={"predicted": str})
    assert list(table.columns) == ["id", "predicted", *[str(c) for c in range(10)]]
    assert table["id"].tolist() == [f"batch/{i}.png" for i in range(6)]
    checkpoint = load_model(checkpoint_of(client, run, tmp_path))
    expected = checkpoint.predict(pixels[:, None].float() / 255)
    np.testing.assert_allclose(table.iloc[:, 2:].to_numpy(), expected.numpy(), atol=1e-5)
    (predict_run,) = eval_run(client, run.info.experiment_id, "predict")
    assert predict_run.info.run_name == f"predictions of {run.info.run_name}"
    assert "predictions.csv" in {a.path for a in client.list_artifacts(predict_run.info.run_id)}


TABLE = [
    "data=csv",
    "data.source.target=species",
    "data.source.categorical=[colour]",
    "data.source.drop=[id]",
    "model=mlp",
]


def test_a_table_model_predicts_a_csv_without_its_target_and_names_missing_columns(
    tmp_path,
) -> None:
    import mlflow
    import pandas as pd

    from tunelab.data.inputs import read_inputs
    from tunelab.errors import DataError
    from tunelab.inference.checkpoint import load_model

    write_csv(tmp_path / "table.csv")
    job = train_in_process([*TABLE, f"data.source.path={tmp_path / 'table.csv'}"], tmp_path)
    model = load_model(tmp_path / "outputs" / "in-process" / "checkpoints" / "best.ckpt")
    rows = pd.read_csv(tmp_path / "table.csv").drop(columns=["species"])  # id stays: ignored
    rows.loc[0, "colour"] = "purple"  # a category training never saw: no one-hot column set
    rows.to_csv(tmp_path / "new.csv", index=False)
    ids, x = read_inputs(tmp_path / "new.csv", model.preprocess)
    assert len(ids) == len(rows)
    mlflow.set_tracking_uri(store_uri(tmp_path))
    (output,) = mlflow.MlflowClient().get_run(job.run.run_id).outputs.model_outputs
    served = mlflow.pyfunc.load_model(f"models:/{output.model_id}").predict(rows)
    np.testing.assert_allclose(served.to_numpy(), model.outputs(x).numpy(), atol=1e-5)
    rows.drop(columns=["weight", "colour"]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataError, match="no column 'weight', 'colour'"):
        read_inputs(tmp_path / "short.csv", model.preprocess)


def test_a_sweep_registers_its_best_trial_as_champion_and_a_worse_sweep_leaves_it(tmp_path) -> None:
    from mlflow import MlflowClient

    base = ["-m", *TINY, "tracking.experiment=sweeps", "model=mlp", "model.hidden_dim=32"]
    first = run_in_process([*base, "optimizer.lr=0.01,0.003"], tmp_path)
    assert "moved to version 1" in first.stdout
    client = MlflowClient(store_uri(tmp_path))
    champion = client.get_model_version_by_alias("sweeps", "champion")
    second = run_in_process([*base, "optimizer.lr=1e-7"], tmp_path)  # learns nothing in 2 epochs
    assert "kept: its objective" in second.stdout
    assert client.get_model_version_by_alias("sweeps", "champion").version == champion.version
    assert len(client.search_model_versions("name = 'sweeps'")) == 2
    parents = client.search_runs(
        [client.get_experiment_by_name("sweeps").experiment_id],
        filter_string="tags.`registered_model` LIKE 'sweeps version%'",
    )
    assert sorted(p.data.tags["registered_model"] for p in parents) == [
        "sweeps version 1",
        "sweeps version 2",
    ]


def test_the_registered_champion_is_served_over_http(registered) -> None:
    root, client, run = registered
    client.set_registered_model_alias(MODEL_NAME, "champion", "1")
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)  # as with the venv activated: uvicorn is on PATH
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": store_uri(root),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    mlflow_cli = str(Path(bin_dir) / "mlflow")
    command = [
        mlflow_cli,
        "models",
        "serve",
        "-m",
        f"models:/{MODEL_NAME}@champion",
        "--env-manager",
        "local",
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_served(port, server)
        images, labels = digits_images()
        body = json.dumps({"inputs": images[[0, 1], None].tolist()}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", body, {"Content-Type": "application/json"}
        )
        answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
        probabilities = np.array(
            [[row[str(c)] for c in range(10)] for row in answer["predictions"]]
        )
        assert probabilities.argmax(1).tolist() == labels[:2].tolist()
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_served(port: int, server: subprocess.Popen, seconds: float = 120) -> None:
    import time

    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            raise AssertionError(
                f"mlflow models serve exited: {server.stderr.read().decode()[-3000:]}"
            )
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"mlflow models serve did not answer on port {port}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ckpt_path=/nowhere/best.ckpt"], "checkpoint /nowhere/best.ckpt does not exist"),
        (["run_id=0123456789abcdef"], "run_id=0123456789abcdef: no such run"),
        ([f"model_uri=models:/{MODEL_NAME}@nobody"], f"model_uri=models:/{MODEL_NAME}@nobody"),
        ([], "name one model: ckpt_path=PATH, run_id=ID or model_uri="),
        (["data=image_folder", "data.source.root=PNGS"], "the model predicts ['0', '1'"),
        (["mode=predict", "input=EMPTY"], "holds no images"),
    ],
)
def test_a_bad_model_data_or_input_is_one_line_and_no_run(
    registered, tmp_path, args, message
) -> None:
    root, client, run = registered
    write_png_folder(tmp_path / "pngs")
    (tmp_path / "empty").mkdir()
    args = [
        a.replace("PNGS", str(tmp_path / "pngs")).replace("EMPTY", str(tmp_path / "empty"))
        for a in args
    ]
    if any(a.startswith(("data=", "mode=")) for a in args):
        args.append(f"run_id={run.info.run_id}")
    before = len(client.search_runs([run.info.experiment_id]))
    if not args:  # eval.py itself: its stderr is that one line
        assert message in script_refused(args, root, "eval.py")
    else:  # the same job in this process
        assert message in job_refused("eval", [*in_store(root), *args], tmp_path / "out")
    assert len(client.search_runs([run.info.experiment_id])) == before


def test_a_run_without_model_or_checkpoint_says_so(tmp_path) -> None:
    from mlflow import MlflowClient

    from tunelab.errors import UserError
    from tunelab.tracking.registry import download_checkpoint

    off = ["model=mlp", "tracking.log_model=false", "tracking.log_checkpoint=false"]
    job = train_in_process(off, tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    with pytest.raises(UserError, match="logged no model and no checkpoint"):
        download_checkpoint(client, None, job.run.run_id, None, tmp_path / "m")
    with pytest.raises(UserError, match="name one model"):
        download_checkpoint(client, "a.ckpt", job.run.run_id, None, tmp_path / "m")
