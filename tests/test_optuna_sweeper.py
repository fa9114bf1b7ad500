"""The tunelab Optuna sweeper: studies, pruning, resume and parallel trials, for real."""

import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import png_width, run_entry, run_in_process

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it

FAST = [  # the console's defaults kept: the line budget below is a user's
    "model=mlp",
    "model.hidden_dim=32",
    "tracking.experiment=study",
    "hydra/sweeper=optuna",
    "hydra.sweeper.study_name=test",
]


def study_sweep(root, *args: str, check: bool = True):
    """Run a sweep with the study's journal at a fixed place, so later sweeps can resume it:
    in this process, but a sweep of trials in worker processes (joblib) as a real one."""
    storage = f"hydra.sweeper.storage={root}/study.journal"
    run = run_entry if "hydra/launcher=joblib" in args else run_in_process
    return run(["-m", *FAST, storage, *args], root, check=check)


def load(root):
    import optuna
    from mlflow import MlflowClient

    from tunelab.sweeps.pruning import open_storage

    study = optuna.load_study(study_name="test", storage=open_storage(f"{root}/study.journal"))
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    runs = client.search_runs(
        [client.get_experiment_by_name("study").experiment_id], max_results=100
    )
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return study, client, parents, children


def test_tpe_study_of_four_trials(tmp_path) -> None:
    result = study_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=4",
        "hydra/sweeper/pruner=none",
        "trainer.max_epochs=2",
        "optimizer.lr=tag(log, interval(1e-4, 1e-1))",
        "optimizer=choice(adam, sgd)",
        "data.batch_size=choice(32, 64)",
    )
    study, client, parents, children = load(tmp_path)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert len(parents) == 1 and len(children) == 4
    parent = parents[0]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert sorted(c.data.tags["optuna.trial"] for c in children) == ["0", "1", "2", "3"]
    for child in children:  # the trial number and each sampled value, short
        name, number = child.info.run_name, child.data.tags["optuna.trial"]
        # and each optimizer's own knobs (conf/search_space/optimizer), only under it
        own = r"(adam bs=(32|64) amsgrad=\S+|sgd bs=(32|64) momentum=\S+ nesterov=\S+)"
        assert re.fullmatch(rf"#{number} lr=\S+ {own}", name), name
    assert parent.info.run_name.startswith("sweep lr optimizer bs on digits ")
    assert {c.data.tags["trial.state"] for c in children} == {"finished"}
    assert parent.data.metrics["trials_finished"] == 4 and parent.data.metrics["trials_failed"] == 0
    assert (
        not {"trial_objective", "trials_killed", "optuna.trials_pruned"}
        & parent.data.metrics.keys()
    )
    # The console tells the story in a few lines (not a terminal): where the study is, one line
    # per trial as it ends, then the best trial and where to look.
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) <= 20, "\n".join(lines)
    trial_lines = [line for line in lines if line.startswith("trial #")]
    assert len(trial_lines) == 4 and all(": finished, val/acc_best 0." in t for t in trial_lines)
    assert any(line.startswith("best trial #") for line in lines)
    for noise in ("GPU available", "Launching", "config", "Epoch ", "test, best checkpoint"):
        assert not any(noise in line for line in lines), noise
    best_child = max(c.data.metrics["objective"] for c in children)
    assert "optuna.best_value" not in parent.data.metrics  # best_objective says it
    assert parent.data.metrics["best_objective"] == pytest.approx(best_child)
    assert parent.data.params["optuna.best.optimizer"] in ("adam", "sgd")
    assert float(parent.data.params["optuna.best.optimizer.lr"]) == pytest.approx(
        study.best_params["optimizer.lr"]
    )
    optuna_files = {
        a.path.split("/")[-1] for a in client.list_artifacts(parent.info.run_id, "optuna")
    }
    assert {"optimization_history.png", "param_importances.png", "trials.csv"} <= optuna_files
    history = client.download_artifacts(parent.info.run_id, "optuna/optimization_history.png")
    assert png_width(history) >= 1000  # the house style, Optuna's plots included
    lrs = [float(c.data.params["optimizer.lr"]) for c in children]
    assert all(1e-4 <= lr <= 1e-1 for lr in lrs) and len(set(lrs)) == 4


def test_a_bad_curve_is_pruned_early(tmp_path) -> None:
    epochs = "trainer.max_epochs=4"
    no_stop = "callbacks.early_stopping=null"
    setup = [epochs, no_stop, "regularization.dropout=interval(0.0, 0.1)"]
    median = ["hydra/sweeper/pruner=median", "hydra.sweeper.pruner.n_startup_trials=2"]
    study_sweep(tmp_path, "hydra.sweeper.n_trials=2", "optimizer.lr=3e-3", *setup, *median)
    # the same study goes on with a learning rate that cannot learn in 4 epochs
    result = study_sweep(tmp_path, "hydra.sweeper.n_trials=3", "optimizer.lr=1e-7", *setup, *median)
    assert "Skipped telling trial" not in result.stdout + result.stderr  # told once, as PRUNED
    study, client, _, children = load(tmp_path)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    pruned = study.trials[2]
    assert max(pruned.intermediate_values) < 3  # stopped before its last epoch
    run = next(c for c in children if c.data.tags["optuna.trial"] == "2")
    # pruned is a state of its own: the run stopped as designed (FINISHED, not a crash), with
    # the epoch and the objective it had reached then (Optuna's value for the trial)
    epoch = max(pruned.intermediate_values)
    assert run.info.status == "FINISHED" and run.data.tags["trial.state"] == "pruned"
    assert run.data.tags["trial.pruned_epoch"] == str(epoch)
    assert run.data.metrics["objective"] == pytest.approx(pruned.value)
    assert pruned.value == pytest.approx(pruned.intermediate_values[epoch])
    assert len(client.get_metric_history(run.info.run_id, "val/acc")) < 4
    parent = client.get_run(run.data.tags["mlflow.parentRunId"])
    assert parent.data.metrics["trials_pruned"] == 1 and parent.data.metrics["trials_total"] == 1
    assert "best_objective" not in parent.data.metrics  # a pruned trial is not a result
    trials_md = client.download_artifacts(parent.info.run_id, "sweep/trials.md")
    row = next(x for x in Path(trials_md).read_text().splitlines() if run.info.run_id in x)
    assert f"{pruned.value:.4f}" in row and f"pruned @ epoch {epoch}" in row
    line = next(x for x in result.stdout.splitlines() if x.startswith("trial #2 "))
    assert f": pruned at epoch {epoch}, val/acc {pruned.value:.4f} (" in line


def test_resume_continues_without_rerunning(tmp_path) -> None:
    """A study resumed by a later sweep keeps its trials; a trial a dead sweep left RUNNING
    is failed and asked again with its params."""
    space = [
        "trainer.max_epochs=1",
        "hydra/sweeper/pruner=none",
        "optimizer.lr=tag(log, interval(1e-4, 1e-2))",
    ]
    study_sweep(tmp_path, "hydra.sweeper.n_trials=2", *space)
    first, _, _, _ = load(tmp_path)
    before = [(t.number, t.params, t.value) for t in first.trials]
    leave_a_running_trial_of_a_dead_process(first)
    study_sweep(tmp_path, "hydra.sweeper.n_trials=4", *space)
    study, _, parents, children = load(tmp_path)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 2 + ["FAIL"] + ["COMPLETE"] * 2
    assert [(t.number, t.params, t.value) for t in study.trials[:2]] == before
    stale, retry = study.trials[2], study.trials[3]
    assert retry.params == stale.params and retry.user_attrs["retry_of"] == 2
    second = max(parents, key=lambda r: r.info.start_time)
    ran_again = [c for c in children if c.data.tags["mlflow.parentRunId"] == second.info.run_id]
    assert sorted(c.data.tags["optuna.trial"] for c in ran_again) == ["3", "4"]


def leave_a_running_trial_of_a_dead_process(study) -> None:
    import socket
    import subprocess

    import optuna

    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid names no process now
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)
    trial = study.ask({"optimizer.lr": lr})
    trial.set_user_attr("process", f"{socket.gethostname()}:{gone.pid}")


def test_joblib_workers_share_the_study_and_never_wait_for_each_other(tmp_path) -> None:
    """Two slots, a long trial and three short ones: the short trials follow each other in one
    slot while the long trial runs in the other (in batches, trial 2 would wait for trial 0)."""
    import optuna

    from tunelab.sweeps.pruning import open_storage

    study = optuna.create_study(
        study_name="test", storage=open_storage(f"{tmp_path}/study.journal")
    )
    for epochs in (100, 1, 1, 1):  # asked for in this order
        study.enqueue_trial({"trainer.max_epochs": epochs})
    study_sweep(
        tmp_path,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.n_trials=4",
        "hydra/sweeper/pruner=none",
        "trainer.max_epochs=choice(1, 100)",
        "callbacks.early_stopping=null",
        "optimizer.lr=tag(log, interval(1e-4, 1e-2))",
    )
    study, _, _, children = load(tmp_path)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert len(children) == 4
    assert len({c.data.tags["process"] for c in children}) >= 2  # trials ran in two processes
    for trial in study.trials:
        assert trial.intermediate_values, "each trial reported its epochs to the shared study"
    runs = {int(c.data.tags["optuna.trial"]): c.info for c in children}
    assert runs[2].start_time < runs[0].end_time  # asked for when trial 1 ended, not trial 0
    assert runs[3].start_time < runs[0].end_time


def test_sweeper_plugin_does_not_slow_help() -> None:
    from tests.test_config import imported_modules, run_quick

    result = run_quick("--hydra-help")
    assert "optuna" in result.stdout  # hydra/sweeper=optuna is listed
    assert "hyperband" in result.stdout and "cmaes" in result.stdout
    assert not {"optuna", "mlflow", "torch"} & imported_modules(result.stderr)


def test_a_failed_trial_is_retried_with_the_same_params(tmp_path) -> None:
    # a bad value fails a sweep's trial (a FAILED run) each time it runs
    study_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.retries=1",
        "hydra/sweeper/pruner=none",
        "trainer.max_epochs=0",
        "data.batch_size=choice(64)",
    )
    study, _, _, children = load(tmp_path)
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL"]  # one retry, then it counts
    retry = study.trials[1]
    assert retry.params == study.trials[0].params
    assert retry.user_attrs["retry_of"] == 0 and retry.user_attrs["retry"] == 1
    assert sorted(c.info.status for c in children) == ["FAILED", "FAILED"]


def test_each_choice_brings_its_own_knobs_to_the_trials_that_pick_it(tmp_path) -> None:
    """hparams_search=digits_models: model, optimizer and schedule are picked per trial, and
    each pick's own space (conf/search_space) is searched in that trial only."""
    from hydra_plugins.tunelab_optuna_sweeper._search_space import knob_key
    from tests.conftest import CONF

    args = ["hparams_search=digits_models", "hydra.sweeper.n_trials=5", "trainer.max_epochs=1"]
    args += [
        "hydra/sweeper/pruner=none",
        "tracking.experiment=study",
        "hydra.sweeper.study_name=test",
    ]
    run_in_process(["-m", *args, f"hydra.sweeper.storage={tmp_path}/study.journal"], tmp_path)
    study, _, parents, children = load(tmp_path)
    assert len(children) == 5 and {c.info.status for c in children} == {"FINISHED"}
    searched = set(
        OmegaConf.load(CONF / "hparams_search" / "digits_models.yaml").hydra.sweeper.params
    )
    for child in children:
        params = child.data.params
        trial = study.trials[int(child.data.tags["optuna.trial"])]
        own = set()
        for group in ("model", "optimizer", "scheduler"):
            file = CONF / "search_space" / group / f"{params[group]}.yml"
            own |= set(OmegaConf.load(file)) if file.exists() else set()
        assert {knob_key(name) for name in trial.params} == searched | own, trial.params
        for name, value in trial.params.items():  # the run trained with what was sampled
            logged, sampled = params[knob_key(name)], str(value)
            assert logged.lower().replace(" ", "") == sampled.lower().replace(" ", ""), name
        # the run's params are its model's knobs only: no key of a model it did not pick
        model_keys = {k.removeprefix("model.") for k in params if k.startswith("model.")}
        chosen = OmegaConf.load(CONF / "model" / f"{params['model']}.yaml")
        assert model_keys == set(chosen) - {"_target_"}, (params["model"], model_keys)


def test_a_search_stops_on_its_patience_and_on_its_timeout_and_says_why(tmp_path) -> None:
    # one configuration only: every trial ties the first, so none is a new best
    same = [
        "hydra/sweeper/pruner=none",
        "trainer.max_epochs=1",
        "regularization.dropout=choice(0.0)",
    ]
    result = study_sweep(tmp_path, "hydra.sweeper.n_trials=10", "hydra.sweeper.patience=2", *same)
    study, client, parents, children = load(tmp_path)
    assert len(study.trials) == 3 and len(children) == 3  # the best, then 2 without a better
    reason = "no new best in the last 2 finished trials (hydra.sweeper.patience=2)"
    assert parents[0].data.tags["sweep.stopped_by"] == reason
    assert f"the search stopped before n_trials=10: {reason}" in result.stdout
    # a second study, a grid of three: its 0.5 s is spent during the first trial (5 epochs
    # take longer), so no second one starts (Hydra's basic sweeper has no budgets; a grid
    # gets them in this sweeper)
    more = ["hydra.sweeper.study_name=timed", "tracking.experiment=timed"]
    more += ["hydra/sweeper/sampler=grid", "optimizer.lr=choice(1e-3, 2e-3, 3e-3)"]
    timed = ["hydra.sweeper.n_trials=10", "hydra.sweeper.timeout=0.5"]
    longer = ["trainer.max_epochs=5", "callbacks.early_stopping=null"]
    study_sweep(tmp_path, *timed, *same, *more, *longer)
    timed = [r for r in client.search_runs([client.get_experiment_by_name("timed").experiment_id])]
    (parent,) = [r for r in timed if "mlflow.parentRunId" not in r.data.tags]
    assert (
        len(timed) == 2
        and parent.data.tags["sweep.stopped_by"] == "hydra.sweeper.timeout=0.5 s reached"
    )


def test_a_search_starts_from_the_runs_the_store_already_holds(tmp_path) -> None:
    """warm_start: the earlier runs inside the space join the study as complete trials (one
    outside it is skipped and counted; the repeats of a repeats=2 run are not runs of their
    own); then the current config is asked first."""
    earlier = [*FAST[:3], "trainer.max_epochs=1", "optimizer.lr=1e-3,5e-2", "repeats=2"]
    run_in_process(["-m", *earlier], tmp_path)
    space = ["optimizer.lr=tag(log, interval(1e-4, 1e-2))", "hydra/sweeper/pruner=none"]
    warm = ["hydra.sweeper.warm_start=study", "hydra.sweeper.n_trials=2", "trainer.max_epochs=1"]
    result = study_sweep(tmp_path, *space, *warm)
    study, _, parents, _ = load(tmp_path)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3  # 1 earlier run, 2 asked
    (earlier_run,) = [t for t in study.trials if "warm_start_run" in t.user_attrs]
    assert earlier_run.number == 0 and earlier_run.params["optimizer.lr"] == pytest.approx(1e-3)
    # the current config (lr 1e-3) is the earlier run: not asked again
    assert all(t.params["optimizer.lr"] != pytest.approx(1e-3) for t in study.trials[1:])
    (parent,) = [p for p in parents if "optuna.study_name" in p.data.tags]
    said = "warm start from study: 1 finished and 0 pruned runs added to the study, 1 outside"
    assert parent.data.tags["sweep.warm_start"].startswith(said) and said in result.stdout
    assert parent.data.tags["sweep.enqueued"] == "the current config (in the study already)"
    nothing = study_sweep(tmp_path, *space, "hydra.sweeper.warm_start=nowhere", check=False)
    assert nothing.returncode != 0 and nothing.stderr.strip().splitlines()[-1] == (
        "tunelab: the sweep cannot use hydra.sweeper.warm_start=nowhere: no experiment of that "
        "name (give an experiment's name, a sweep's parent run id, or a list of run ids)"
    )
