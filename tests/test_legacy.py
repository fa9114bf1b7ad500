"""A run made before the layout of issue 29 (tests/fixtures/legacy: a checkpoint, the recorded
config and overrides of a small MLP written by commit c2406da, as `make.py` there says) still
evaluates, predicts, exports and resumes. Its config names modules by their old import paths
(tunelab.schedules, tunelab.trainer), which tunelab.cli.moved reads as today's."""

import shutil
from pathlib import Path

import pytest
import yaml

import tunelab
from tests.conftest import ROOT, in_store, job_in_process, run_in_process, store_uri

# The fixture is this project's own past: a renamed fork (scripts/rename_project.py) never wrote
# such runs, and its checkpoints carry its own name. Spelled in two parts so that the rename,
# which rewrites the project's name wherever it stands whole, leaves this line meaning the same.
WRITTEN_BY = "tune" + "lab"

pytestmark = [
    pytest.mark.process,  # starts real jobs or services: make test-fast skips it
    pytest.mark.skipif(
        tunelab.__name__ != WRITTEN_BY, reason=f"the fixture holds runs of {WRITTEN_BY}"
    ),
]

FIXTURE = Path(__file__).parent / "fixtures" / "legacy"


def legacy_run(root: Path) -> str:
    """The fixture as the store and folder c2406da left: a KILLED run whose config.yaml and
    overrides.yaml artifacts, folder (with checkpoints/last.ckpt) and checkpoint artifact are
    those of the old code. Returns its run id."""
    from mlflow import MlflowClient

    run_dir = root / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    shutil.copy(FIXTURE / "last.ckpt", checkpoint)
    client = MlflowClient(store_uri(root))
    # Its artifacts beside the store, as tunelab's experiments keep them: MLflow's default is
    # ./mlruns of the current folder, the repository's when the suite runs.
    experiment = client.create_experiment("legacy", artifact_location=str(root / "mlartifacts"))
    run = client.create_run(experiment, run_name="legacy", tags={"hydra.output_dir": str(run_dir)})
    run_id = run.info.run_id
    for name in ("config.yaml", "overrides.yaml"):
        text = (FIXTURE / name).read_text()
        for placeholder, value in (("{RUN_DIR}", run_dir), ("{WORK}", root), ("{ROOT}", ROOT)):
            text = text.replace(placeholder, str(value))
        (root / name).write_text(text)
        client.log_artifact(run_id, str(root / name))
    client.log_artifact(run_id, str(checkpoint), "checkpoints")
    client.set_terminated(run_id, "KILLED")
    return run_id


def recorded_metrics() -> dict[str, float]:
    return yaml.safe_load((FIXTURE / "run.yaml").read_text())["metrics"]


def test_the_old_recorded_config_names_moved_modules() -> None:
    """The fixture is what it claims to be: without the upgrade, resume would see a change."""
    config = (FIXTURE / "config.yaml").read_text()
    assert "_target_: tunelab.schedules.Schedule" in config
    assert "_target_: tunelab.trainer.CheckpointOnStop" in config


def test_an_old_run_evaluates_predicts_and_exports(tmp_path, capsys) -> None:
    """The jobs eval.py and export.py run, in this process (test_run_to_model and test_export
    run the scripts themselves)."""
    from mlflow import MlflowClient

    run_id = legacy_run(tmp_path)
    job_in_process("eval", [*in_store(tmp_path), f"run_id={run_id}"], tmp_path / "eval")
    client = MlflowClient(store_uri(tmp_path))
    (evaluation,) = client.search_runs(
        [client.get_experiment_by_name("legacy").experiment_id],
        filter_string="tags.`tunelab.job` = 'evaluate'",
    )
    assert evaluation.data.metrics["test/acc"] == pytest.approx(
        recorded_metrics()["test/acc"], abs=1e-5
    )
    predict = [
        "mode=predict",
        f"ckpt_path={FIXTURE / 'last.ckpt'}",
        f"input={digit_pngs(tmp_path / 'new', 3)}",
    ]
    job_in_process("eval", [*in_store(tmp_path), *predict], tmp_path / "predict")
    assert "3 predictions written" in capsys.readouterr().out
    export = [f"ckpt_path={FIXTURE / 'last.ckpt'}", "export.variants=[onnx]"]
    job_in_process("export", [*in_store(tmp_path), *export], tmp_path / "export")
    assert (tmp_path / "export" / "model" / "model.onnx").is_file()


def digit_pngs(folder: Path, count: int) -> Path:
    """`count` of scikit-learn's digits as PNG files in `folder`, in their 0-255 pixel scale."""
    import torch
    from sklearn.datasets import load_digits
    from torchvision.io import write_png

    folder.mkdir(parents=True)
    images = torch.from_numpy(load_digits().images[:count] * 255 / 16).round().to(torch.uint8)
    for i, image in enumerate(images):
        write_png(image[None], str(folder / f"{i}.png"))
    return folder


def test_an_old_run_resumes_in_its_own_run(tmp_path) -> None:
    from mlflow import MlflowClient

    run_id = legacy_run(tmp_path)
    run_in_process([f"resume={run_id}", "trainer.max_epochs=4"], tmp_path)
    run = MlflowClient(store_uri(tmp_path)).get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["resumed"] == "true"
    assert run.data.metrics["epochs_trained"] == 4
