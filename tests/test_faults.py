"""Faults an operator meets (issue 30), each injected into a real run and the store compared
with an undisturbed run's: the MLflow writer process killed at any point of a run."""

import logging
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import store_uri, train_in_process
from tunelab.tracking import run as tracked

# Tracking as a user's job has it: MLflow in its side process, metrics written every epoch.
RUN = ["tracking.writer=process", "tracking.flush_seconds=0", "trainer.max_epochs=4"]
RUN += ["callbacks.early_stopping=null", "model=mlp", "model.hidden_dim=16"]
RUN += ["tracking.register_as=faults"]


def kill_writer() -> None:
    """SIGKILL the writer process, as the OOM killer would, and wait until it is gone."""
    assert tracked._process is not None
    process = tracked._process.process
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def store_state(root: Path) -> dict:
    """The run as the store holds it: status, every metric's points (timings by step only),
    params, artifacts, the logged models' states and the registered versions."""
    from mlflow import MlflowClient

    client = MlflowClient(store_uri(root))
    (run,) = client.search_runs([client.get_experiment_by_name("tunelab").experiment_id])
    run_id = run.info.run_id
    metrics = {}
    for key in run.data.metrics:
        if key.startswith("system/"):  # sampled by the writer itself, not measured by training
            continue
        history = client.get_metric_history(run_id, key)
        timed = "time" in key
        metrics[key] = sorted((m.step, None if timed else m.value) for m in history)

    def files(path: str | None = None) -> list[str]:
        found = []
        for item in client.list_artifacts(run_id, path):
            found += files(item.path) if item.is_dir else [item.path]
        return sorted(found)

    models = client.search_logged_models([run.info.experiment_id])
    versions = client.search_model_versions("name = 'faults'")
    return {
        "status": run.info.status,
        "metrics": metrics,
        "params": run.data.params,
        "artifacts": [f for f in files() if not f.endswith(".log")],  # the log says it all
        "models": sorted(m.status.value for m in models),  # one READY, none half logged
        "model_uri": "model_uri" in run.data.tags,
        "registered": [(v.version, v.model_id == models[0].model_id) for v in versions],
    }


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("undisturbed")
    train_in_process(RUN, root)
    return store_state(root)


def killing_after(
    method: str, monkeypatch, calls: int = 1, delay: float = 0.0, then=lambda: None
) -> None:
    """Kill the writer right after TrackedRun.METHOD has sent its request the `calls`-th time
    (after `delay` seconds: in the middle of the writer's work on it), then call `then`."""
    original = getattr(tracked.TrackedRun, method)
    count = 0

    def then_kill(self, *args, **kwargs):
        nonlocal count
        original(self, *args, **kwargs)
        count += 1
        if count == calls:
            time.sleep(delay)
            kill_writer()
            then()

    monkeypatch.setattr(tracked.TrackedRun, method, then_kill)


@pytest.mark.parametrize(
    "during, method, calls, delay",
    [
        ("fit", "log_metrics", 5, 0.0),  # in the second epoch
        ("test", "log_checkpoint", 1, 0.0),  # while the test split runs
        ("model logging", "log_model", 1, 0.3),  # while the writer logs the model
    ],
)
def test_a_killed_writer_loses_nothing(
    during, method, calls, delay, undisturbed, tmp_path, monkeypatch, caplog
) -> None:
    killing_after(method, monkeypatch, calls, delay)
    with caplog.at_level(logging.WARNING, logger="tunelab.tracking.run"):
        job = train_in_process(RUN, tmp_path)
    assert job.run is not None and job.run.lost is None and job.run.restarts == 1
    (line,) = [r.getMessage() for r in caplog.records if "writer process stopped" in r.getMessage()]
    assert line.startswith("the MLflow writer process stopped (killed by SIGKILL): started again")
    assert store_state(tmp_path) == undisturbed


def test_a_writer_that_cannot_be_replaced_stops_the_job_in_one_line(tmp_path, monkeypatch):
    """No writer takes the run (every new one dies, and so would MLflow in this process): the
    job stops at its next metric, in one line, exit status non-zero."""

    class Dead:
        def send(self, request):
            raise BrokenPipeError

        def receive(self):
            raise EOFError

    def no_writer_works() -> None:
        monkeypatch.setattr(tracked, "writer_process", lambda: Dead())
        monkeypatch.setattr(tracked, "open_writer", lambda mode: Dead())

    killing_after("log_metrics", monkeypatch, calls=3, then=no_writer_works)
    with pytest.raises(SystemExit) as stopped:
        train_in_process(RUN, tmp_path)
    assert str(stopped.value.code).startswith(
        "tunelab: the MLflow writer process stopped (BrokenPipeError) and could not be replaced"
    )
    assert "\n" not in str(stopped.value.code)


def test_a_full_disk_fails_the_run_in_one_line_and_keeps_what_it_trained(tmp_path, monkeypatch):
    """The disk fills up while a checkpoint is written: the job stops in one line naming the
    file and what to do; the run is FAILED with its epochs' metrics and marked resumable;
    no half file is left, and the checkpoints written before still load."""
    import errno

    import torch

    from tunelab.training.rerun import unreadable

    save, saves = torch.save, 0

    def fills_up(checkpoint, file, *args, **kwargs):
        nonlocal saves
        saves += 1
        if saves == 3:
            file.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        save(checkpoint, file, *args, **kwargs)

    monkeypatch.setattr(torch, "save", fills_up)
    with pytest.raises(SystemExit) as stopped:
        train_in_process([*RUN, "trainer.max_epochs=6", "tracking.writer=inline"], tmp_path)
    line = str(stopped.value.code)
    assert line.startswith("tunelab: cannot write the checkpoint ") and "\n" not in line
    assert line.endswith(
        ": No space left on device: free space there, or point hydra.run.dir "
        "(hydra.sweep.dir) at a disk with room"
    )
    from mlflow import MlflowClient

    client = MlflowClient(store_uri(tmp_path))
    (run,) = client.search_runs([client.get_experiment_by_name("tunelab").experiment_id])
    assert run.info.status == "FAILED" and "No space left" in run.data.tags["error"]
    assert run.data.tags["resumable"].startswith(f"resume={run.info.run_id} continues from")
    assert len(client.get_metric_history(run.info.run_id, "val/acc")) >= 2
    folder = tmp_path / "outputs" / "in-process" / "checkpoints"
    assert not list(folder.glob(".*partial")), list(folder.iterdir())
    assert [unreadable(path) for path in sorted(folder.glob("*.ckpt"))] == [None, None]


def test_resume_reads_past_a_damaged_checkpoint_and_names_it(tmp_path, caplog) -> None:
    from omegaconf import OmegaConf

    from tunelab.errors import UserError
    from tunelab.training.rerun import resume_checkpoint

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("last", "best"):
        torch_save({"epoch": 1}, folder / f"{name}.ckpt")
    callbacks = OmegaConf.create({"model_checkpoint": {"dirpath": str(folder)}})
    assert resume_checkpoint("ID", callbacks) == str(folder / "last.ckpt")

    data = (folder / "last.ckpt").read_bytes()
    (folder / "last.ckpt").write_bytes(data[: len(data) // 2])  # a copy cut short
    with caplog.at_level(logging.WARNING):
        assert resume_checkpoint("ID", callbacks) == str(folder / "best.ckpt")
    assert f"{folder / 'last.ckpt'} is damaged (" in caplog.text
    assert f"resuming from {folder / 'best.ckpt'} instead" in caplog.text

    (folder / "best.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(
        UserError,
        match=r"^resume=ID: no readable checkpoint: .*last.ckpt is "
        r"damaged .*best.ckpt is damaged .*; reproduce=ID trains the run again",
    ):
        resume_checkpoint("ID", callbacks)


def torch_save(value, path: Path) -> None:
    import torch

    torch.save(value, path)
