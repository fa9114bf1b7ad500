"""resume=RUN_ID continues a stopped run in the same MLflow run, to the metrics an uninterrupted
run reaches; reproduce=RUN_ID trains the recorded config again as a new run; a grid sweep run
again in its folder keeps its finished trials and resumes the others."""

import signal
import time
from pathlib import Path

import pytest

from tests.conftest import run_in_process, store_uri
from tests.test_signals import start
from tunelab.inference.checkpoint import load_model

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it

# Slow enough epochs (batch 8) to be stopped in the middle; early stopping off.
RUN = [
    "model=mlp",
    "model.hidden_dim=16",
    "data.batch_size=8",
    "trainer.max_epochs=5",
    "callbacks.early_stopping=null",
    "callbacks.progress_bar=null",
    "print_config=false",
    "tracking.flush_seconds=0",
]


def stop_after_first_epoch(args: list[str], root: Path, checkpoint: str) -> None:
    """Start train.py, SIGTERM it once `checkpoint` (a glob under root) is written."""
    process = start(args, root)
    deadline = time.time() + 120
    while not list(root.glob(checkpoint)) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.3)  # into the next epoch, of 5
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM, process.stderr.read()[-3000:]


def history(client, run_id: str, key: str = "val/acc") -> dict[int, float]:
    return {m.step: m.value for m in client.get_metric_history(run_id, key)}


# The objective never improves after the first epoch (validation loss, maximised): the best
# checkpoint stays epoch 0's, and a resume must still continue from the last epoch trained.
BEST_FIRST = ["objective.metric=val/loss", "objective.mode=max"]


def stop_after_epochs(args: list[str], root: Path, epochs: int) -> None:
    """Start train.py, SIGTERM it once its run has logged `epochs` epochs of val/acc."""
    from mlflow import MlflowClient

    process = start(args, root)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.3)
        if not list(root.glob("outputs/*/*/checkpoints/last.ckpt")):
            continue  # the store is opened once the run exists (see wait_until_training)
        client = MlflowClient(store_uri(root))
        runs = client.search_runs(["1"])
        if runs and len(client.get_metric_history(runs[0].info.run_id, "val/acc")) >= epochs:
            break
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM, process.stderr.read()[-3000:]


def points(client, run_id: str, key: str = "val/acc") -> list[int]:
    """The steps of every point logged for `key`, repeats included."""
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def test_resume_matches_an_uninterrupted_run_and_reproduce_repeats_it(tmp_path, client_for):
    stop_after_epochs([*RUN, *BEST_FIRST, "trainer.max_epochs=40"], tmp_path, epochs=3)
    client = client_for(tmp_path)
    (killed,) = client.search_runs(["1"])
    trained = len(points(client, killed.info.run_id))
    assert killed.info.status == "KILLED" and 3 <= trained < 40
    assert killed.data.tags["error"].startswith("SIGTERM: stopped by a signal")
    (folder,) = tmp_path.glob("outputs/*/*/checkpoints")
    assert load_model(folder / "interrupted.ckpt").classes == [str(c) for c in range(10)]
    assert not (folder / "last.ckpt").is_symlink()  # the last epoch's own state, not best's
    run_id = killed.info.run_id

    changed = run_in_process([f"resume={run_id}", "optimizer.lr=0.5"], tmp_path, check=False)
    assert changed.returncode == 1
    assert (
        changed.stderr.strip()
        .splitlines()[-1]
        .startswith(f"tunelab: resume={run_id}: the config differs from the run's in optimizer.lr:")
    )
    # resumed with a bigger budget, and reproduced with the same: as if it had never stopped
    budget = f"trainer.max_epochs={trained + 2}"
    run_in_process([f"resume={run_id}", budget], tmp_path)
    run_in_process([f"reproduce={run_id}", budget], tmp_path)

    resumed, reproduced = (
        client.get_run(run_id),
        client.search_runs(["1"], filter_string=f"tags.reproduces = '{run_id}'")[0],
    )
    assert resumed.info.status == "FINISHED" and resumed.data.tags["resumed"] == "true"
    assert len(client.search_runs(["1"])) == 2  # the resumed run is the same run
    # each epoch trained and logged once: the resume continued from the last epoch, not the best
    assert points(client, run_id) == list(range(trained + 2))
    assert history(client, run_id) == history(client, reproduced.info.run_id)
    for key in ("test/acc", "test/loss", "objective"):
        assert resumed.data.metrics[key] == reproduced.data.metrics[key], key
    assert "error" not in resumed.data.tags  # the KILLED run's error no longer holds


def test_resume_refuses_a_run_it_cannot_find(tmp_path) -> None:
    result = run_in_process(["resume=0123abcd"], tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"tunelab: run 0123abcd in tracking.uri={store_uri(tmp_path)}: not found: "
        "give a run id of this store"
    )


def test_a_stopped_grid_sweep_run_again_runs_only_what_is_missing(tmp_path, client_for):
    sweep = ["-m", *RUN, "optimizer.lr=0.01,0.02", f"hydra.sweep.dir={tmp_path}/sweep"]
    stop_after_first_epoch(sweep, tmp_path, "sweep/1/checkpoints/last.ckpt")
    client = client_for(tmp_path)
    before = {r.data.tags.get("sweep.trial"): r for r in client.search_runs(["1"])}
    assert before["0"].info.status == "FINISHED" and before["1"].info.status == "KILLED"

    result = run_in_process(sweep, tmp_path, inline_writer=False)  # the same overrides
    assert "trial 0 finished in the earlier sweep" in result.stdout
    after = {r.data.tags.get("sweep.trial"): r for r in client.search_runs(["1"])}
    assert len(after) == 3  # the same parent, one run per trial
    assert after[None].info.run_id == before[None].info.run_id
    assert after[None].info.status == "FINISHED"
    for trial in "01":
        assert after[trial].info.status == "FINISHED", trial
        assert after[trial].data.tags["mlflow.parentRunId"] == before[None].info.run_id
    assert after["1"].info.run_id == before["1"].info.run_id  # resumed in its own run
    assert after["0"].info.end_time == before["0"].info.end_time  # not run again
    assert list(history(client, after["1"].info.run_id)) == list(range(5))
    assert "sweep finished: 2 trials: 2 finished, 0 failed" in result.stdout
