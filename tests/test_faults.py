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
    process = tracked._processes["job"].process
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
        # each version holds the run's model (by its models:/ URI, or its files when the
        # replay registered a model the dead writer had logged)
        "registered": [
            (v.version, v.source in (models[0].model_uri, models[0].artifact_location))
            for v in versions
        ],
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


@pytest.mark.parametrize("killed", ["before the next run starts", "during the next run"])
def test_a_run_ended_without_waiting_ends_in_the_store_when_its_writer_dies(
    killed, tmp_path
) -> None:
    """A sweep's trial ends without waiting (end(wait=False)): its writer finishes it while
    the next trial runs. Killed before it has, a new writer is sent that run again, with its
    end, before the next run's requests; both end FINISHED with everything they logged."""
    from mlflow import MlflowClient

    from tunelab.tracking.requests import StartRun

    uri = store_uri(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("trial notes")

    def open_trial(name: str) -> tracked.TrackedRun:
        start = StartRun(uri, "faults", name, {}, {"trial": name}, flush_seconds=0)
        return tracked.TrackedRun(writer=tracked.open_writer("process"), start=start)

    first = open_trial("first")
    first.log_metrics({"train/loss": 1.0}, step=0)
    first.log_artifact(notes)
    first.end("FINISHED", wait=False)
    if killed == "during the next run":
        second = open_trial("second")
        kill_writer()
    else:
        kill_writer()
        second = open_trial("second")
    second.log_metrics({"train/loss": 2.0}, step=0)
    second.end("FINISHED")
    tracked.close_writer()
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("faults").experiment_id])
    ended = {r.info.run_name: r for r in runs}
    assert sorted(ended) == ["first", "second"]
    for name, loss in [("first", 1.0), ("second", 2.0)]:
        run = ended[name]
        assert run.info.status == "FINISHED", name
        assert [m.value for m in client.get_metric_history(run.info.run_id, "train/loss")] == [loss]
    assert [f.path for f in client.list_artifacts(ended["first"].info.run_id)] == ["notes.txt"]
    assert first.lost is None and second.lost is None


def test_a_writer_that_cannot_be_replaced_stops_the_job_in_one_line(tmp_path, monkeypatch):
    """No writer takes the run (every new one dies, and so would MLflow in this process): the
    job stops at its next metric, in one line, exit status non-zero."""

    class Dead:
        def send(self, request):
            raise BrokenPipeError

        def receive(self, ticket):
            raise EOFError

    def no_writer_works() -> None:
        monkeypatch.setattr(tracked, "writer_process", lambda slot="job": Dead())
        monkeypatch.setattr(tracked, "open_writer", lambda mode, slot="job": Dead())

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


def test_a_running_run_beats_and_a_silent_one_counts_as_dead(tmp_path) -> None:
    """The writer sets the heartbeat while the run trains; a RUNNING run of another machine
    whose heartbeat stopped is ended KILLED by the next sweep, one that beats is left alone."""
    from mlflow import MlflowClient

    from tunelab.sweeps.stale import SILENT, end_stale_sweeps
    from tunelab.tracking.heartbeat import BEAT_TAG, EVERY_TAG

    job = train_in_process([*RUN, "tracking.heartbeat_seconds=0.5"], tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    trained = client.get_run(job.run.run_id)
    assert trained.data.tags[EVERY_TAG] == "0.5"
    assert int(trained.data.tags[BEAT_TAG]) > trained.info.start_time + 500  # it beat again

    experiment = trained.info.experiment_id
    now = int(time.time() * 1000)
    lost, alive = (client.create_run(experiment) for _ in range(2))
    for run, last in ((lost, now - 600_000), (alive, now)):
        for key, value in {BEAT_TAG: last, EVERY_TAG: 30, "process": "another-host:1"}.items():
            client.set_tag(run.info.run_id, key, str(value))
    assert end_stale_sweeps(client, [experiment]) == [lost.info.run_id]
    assert client.get_run(lost.info.run_id).data.tags["error"] == SILENT
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"


def test_resume_continues_a_run_whose_heartbeat_stopped_and_refuses_one_that_beats(tmp_path):
    from mlflow import MlflowClient

    from tests.conftest import run_in_process
    from tunelab.tracking.heartbeat import BEAT_TAG, EVERY_TAG

    # train.py's own run: resume= reads the command line it recorded (.hydra/overrides.yaml).
    run_in_process(["trainer.max_epochs=2", "print_config=false"], tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    (run,) = client.search_runs([client.get_experiment_by_name("tunelab").experiment_id])
    run_id = run.info.run_id
    client.update_run(run_id, status="RUNNING")  # as a job on a lost node leaves it
    client.set_tag(run_id, BEAT_TAG, str(int(time.time() * 1000)))  # ... or one that still runs
    refused = run_in_process([f"resume={run_id}", "trainer.max_epochs=3"], tmp_path, check=False)
    assert refused.returncode == 1
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(f"tunelab: resume={run_id}: the run is RUNNING, its last heartbeat ")
    assert line.endswith("or one whose heartbeat stopped (a lost node)")
    client.set_tag(run_id, BEAT_TAG, str(int(time.time() * 1000) - 10 * 60_000))  # silent
    assert client.get_run(run_id).data.tags[EVERY_TAG] == "30.0"  # conf/tracking's default
    result = run_in_process([f"resume={run_id}", "trainer.max_epochs=3"], tmp_path)
    assert "its heartbeat stopped: its process is gone" in result.stderr
    resumed = client.get_run(run_id)
    assert resumed.info.status == "FINISHED" and resumed.data.tags["resumed"] == "true"
    assert len(client.get_metric_history(run_id, "val/acc")) == 3


def test_a_run_that_beats_elsewhere_is_not_continued_by_a_second_process() -> None:
    """A requeued job beside the one it replaces: the writer refuses to reopen a RUNNING run
    whose heartbeat is fresh (tunelab.tracking.writer.check_not_running_elsewhere)."""
    from types import SimpleNamespace

    from tunelab.errors import UserError
    from tunelab.tracking.heartbeat import beat
    from tunelab.tracking.writer import check_not_running_elsewhere

    def run(status: str, tags: dict) -> SimpleNamespace:
        info = SimpleNamespace(status=status, run_id="abc")
        return SimpleNamespace(info=info, data=SimpleNamespace(tags=tags))

    with pytest.raises(UserError, match=r"^run abc is RUNNING in another process \(its last hea"):
        check_not_running_elsewhere(run("RUNNING", beat(30.0)))
    silent = {**beat(30.0), "tunelab.heartbeat": str(int(time.time() * 1000) - 600_000)}
    check_not_running_elsewhere(run("RUNNING", silent))  # dead: continued
    check_not_running_elsewhere(run("KILLED", beat(30.0)))  # ended: continued


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed:UserWarning")  # see _impl
def test_a_shared_study_fails_and_asks_again_a_trial_whose_sweeper_stopped_beating(tmp_path):
    """An Optuna study in a database, shared by sweeps on several machines: a RUNNING trial
    whose sweeper stopped beating (its node was lost) is failed by the next sweep and asked
    again; one that beats is left alone."""
    import optuna

    from hydra_plugins.tunelab_optuna_sweeper._impl import (
        PROCESS_ATTR,
        TrialBeats,
        fail_stale_trials,
        retry_stale,
    )
    from tunelab.sweeps.pruning import open_storage

    storage = open_storage(f"sqlite:///{tmp_path}/optuna.db", 1.0, on_stale=retry_stale)
    study = optuna.create_study(storage=storage)
    beats = TrialBeats(1.0)
    beats.storage = storage
    space = {"lr": optuna.distributions.FloatDistribution(0, 1)}
    lost, alive = study.ask(space), study.ask(space)
    for trial in (lost, alive):
        trial.set_user_attr(PROCESS_ATTR, "another-host:1")  # not this host's to check
        beats.start(trial)
    beats.stop(lost)  # its sweeper is gone: no more beats
    time.sleep(5.5)  # longer than 4 beats of 1 s
    assert fail_stale_trials(study) == [lost.number]
    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    assert states[lost.number] == optuna.trial.TrialState.FAIL
    assert states[alive.number] == optuna.trial.TrialState.RUNNING
    assert study.ask(space).params == lost.params  # asked again, with the same values
    beats.stop(alive)


def test_an_artifact_store_that_refuses_files_fails_the_run_in_one_line(tmp_path, monkeypatch):
    """The artifact store goes read-only (or away) while the run trains: the job ends in one
    line, exit status non-zero, the run FAILED with its metrics and the reason."""
    import errno

    from mlflow import MlflowClient

    original, calls = MlflowClient.log_artifact, 0

    def goes_read_only(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        if calls > 1:  # config.yaml is stored; then the store turns read-only
            raise OSError(errno.EROFS, "Read-only file system")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_artifact", goes_read_only)
    with pytest.raises(SystemExit) as stopped:
        train_in_process([*RUN, "tracking.writer=inline"], tmp_path)
    line = str(stopped.value.code)
    assert line.startswith("tunelab: the artifact store did not take this run's files: the run ")
    assert "\n" not in line
    client = MlflowClient(store_uri(tmp_path))
    (run,) = client.search_runs([client.get_experiment_by_name("tunelab").experiment_id])
    assert run.info.status == "FAILED"
    assert "Read-only file system" in run.data.tags["error"]
    assert len(client.get_metric_history(run.info.run_id, "val/acc")) == 4  # every epoch kept
