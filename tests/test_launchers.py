"""Hydra launchers beyond the basic one: a sweep's trials as submitit jobs, an Optuna study with
pruning through them; a launcher whose plugin is not installed names the extra to install."""

from pathlib import Path

import pytest

from tests.conftest import ROOT, TINY, run_entry, store_uri
from tests.test_optuna_sweeper import load, study_sweep

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it


def test_an_optuna_study_with_pruning_runs_as_submitit_jobs(tmp_path) -> None:
    """Two trials as submitit_local jobs: one parent, a child per trial, and the second
    (a learning rate that cannot learn) pruned by the study after its first epoch."""
    study_sweep(
        tmp_path,
        "hydra/launcher=submitit_local",
        f"hydra.sweep.dir={tmp_path}/sweep",
        "hydra/sweeper/sampler=grid",
        "hydra.sweeper.sampler.seed=1",  # the grid's order: 3e-3 first, then 1e-7
        "optimizer.lr=choice(3e-3,1e-7)",
        "hydra.sweeper.n_trials=2",
        "hydra/sweeper/pruner=median",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        "trainer.max_epochs=4",
        "callbacks.early_stopping=null",
    )
    study, client, parents, children = load(tmp_path)
    assert len(parents) == 1 and len(children) == 2
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED"]
    assert study.trials[1].params["optimizer.lr"] == 1e-7
    pruned = next(c for c in children if c.data.tags["optuna.trial"] == "1")
    assert pruned.info.status == "FINISHED" and pruned.data.tags["trial.state"] == "pruned"
    assert len(client.get_metric_history(pruned.info.run_id, "val/acc")) < 4
    # submitit ran them: a job folder with its result for each trial
    results = list(Path(tmp_path, "sweep", ".submitit").glob("*/*_result.pkl"))
    assert len(results) == 2, list(Path(tmp_path, "sweep").rglob("*"))


def test_a_launcher_that_is_not_installed_names_its_extra(monkeypatch, tmp_path) -> None:
    import importlib.util

    from tunelab.jobs.launchers import launcher_error

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if "submitit" in name else real(name, *a)
    )
    problem = launcher_error(["-m", "hydra/launcher=submitit_slurm", "optimizer.lr=1,2"])
    assert problem is not None and "pip install -e '.[launchers]'" in problem
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    problem = launcher_error(["-m", "hydra/launcher=ray"])
    assert problem is not None and "pip install -e '.[ray]'" in problem
    assert launcher_error(["-m", "hydra/launcher=joblib"]) is None  # installed with the project


def test_the_slurm_launcher_asks_slurm_for_a_ddp_trial(tmp_path, monkeypatch) -> None:
    """hydra/launcher=slurm as submitit writes it into the sbatch script (submitit's own
    rendering; only SLURM is missing here): a task per GPU, the signal before the limit."""
    import submitit
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    GlobalHydra.instance().clear()
    overrides = ["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=4"]
    overrides += ["hydra.launcher.partition=gpu", "hydra.launcher.setup=[module load cuda]"]
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides, return_hydra_config=True)
    params = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", staticmethod(lambda: 1))  # no srun
    # as hydra-submitit-launcher's BaseSubmititLauncher.launch hands them to submitit
    executor = submitit.AutoExecutor(
        folder=tmp_path, cluster="slurm", slurm_max_num_timeout=params["max_num_timeout"]
    )
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    skip = {"_target_", "submitit_folder", "max_num_timeout"}
    executor.update_parameters(
        **{k if k in base else f"slurm_{k}": v for k, v in params.items() if k not in skip}
    )
    script = executor._executor._make_submission_file_text("python -m submitit.core._submit", "0")
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --ntasks-per-node=4",  # one process per GPU: Lightning's DDP ranks
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --time=240",
        "#SBATCH --signal=USR2@120",  # time to requeue before the limit
        "#SBATCH --mem=32GB",
        "module load cuda",
    ):
        assert line in script.splitlines(), (line, script)
    assert executor._executor.max_num_timeout == 3


# Sent by a trial to itself at its third epoch, once: what SLURM sends before the time limit.
REQUEUE_PROBE = """
import os, signal
from pathlib import Path
import lightning as L

class StopOnce(L.Callback):
    def __init__(self, flag):
        self.flag = Path(flag)

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 2 and not self.flag.exists():
            self.flag.write_text("sent")
            os.kill(os.getpid(), signal.SIGUSR2)
"""


def test_a_requeued_trial_continues_its_run(tmp_path) -> None:
    """submitit requeues a trial that receives the time-limit signal (as under SLURM); the job,
    launched again in its folder, continues its MLflow run from the last epoch's checkpoint."""
    from mlflow import MlflowClient

    (tmp_path / "requeue_probe.py").write_text(REQUEUE_PROBE)
    probe = ["+callbacks.stop_once._target_=requeue_probe.StopOnce"]
    probe += [f"+callbacks.stop_once.flag={tmp_path}/signal_sent"]
    args = ["-m", "hydra/launcher=submitit_local", f"hydra.sweep.dir={tmp_path}/sweep", *TINY]
    args += ["trainer.max_epochs=4", "callbacks.early_stopping=null", "tracking.experiment=rq"]
    run_entry([*args, *probe, "optimizer.lr=0.01"], tmp_path)
    assert (tmp_path / "signal_sent").exists()
    client = MlflowClient(store_uri(tmp_path))
    runs = client.search_runs([client.get_experiment_by_name("rq").experiment_id])
    (child,) = [r for r in runs if "mlflow.parentRunId" in r.data.tags]  # one run, continued
    assert child.info.status == "FINISHED"
    history = client.get_metric_history(child.info.run_id, "val/acc")
    assert sorted(m.step for m in history) == [0, 1, 2, 3]  # epochs 0-1, then 2-3 resumed
    assert child.data.tags["resumed"] == "true"
    logs = "".join(p.read_text() for p in (tmp_path / "sweep" / ".submitit").rglob("*_log.*"))
    assert "this job is preempted" in logs and "requeued" in logs.lower(), logs[-3000:]


@pytest.fixture
def ray_cluster():
    """A local Ray head with 2 CPUs, started for the test and stopped after: its address."""
    from scripts.services import free_port, start_ray_head, stop_ray

    yield start_ray_head(free_port(), cpus=2)
    stop_ray()


def test_a_grid_sweep_runs_its_trials_as_ray_tasks(ray_cluster, tmp_path) -> None:
    from mlflow import MlflowClient

    args = ["-m", "hydra/launcher=ray", f"hydra.launcher.address={ray_cluster}", *TINY]
    run_entry([*args, "optimizer.lr=0.01,0.02", "tracking.experiment=ray"], tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    runs = client.search_runs([client.get_experiment_by_name("ray").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED" and len(children) == 2
    assert all(c.info.status == "FINISHED" and "test/acc" in c.data.metrics for c in children)
    # run by Ray's workers, not by the process that ran the sweep
    assert parent.data.tags["process"] not in {c.data.tags["process"] for c in children}


def test_a_ray_address_that_does_not_answer_is_one_line_and_no_run(tmp_path) -> None:
    from scripts.services import free_port

    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    args = ["-m", "hydra/launcher=ray", f"hydra.launcher.address={address}", "optimizer.lr=1,2"]
    result = run_entry(args, tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"tunelab: hydra.launcher.address={address}: no Ray cluster answers there within 10 s: "
        "start one (ray start --head) or fix the address"
    )
    assert not (tmp_path / "mlflow.db").exists()  # no sweep run was opened


def test_the_ray_launcher_is_listed_and_does_not_load_ray_for_help() -> None:
    from tests.test_config import imported_modules, run_quick

    result = run_quick("--hydra-help")
    assert "ray" in result.stdout  # hydra/launcher=ray is listed
    assert "ray" not in imported_modules(result.stderr)
