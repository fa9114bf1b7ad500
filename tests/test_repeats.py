"""repeats=N: a configuration trained with N seeds (or folds), its objective their mean, each
training a child run; in a search, the pruner judges the mean of what has been reported."""

import statistics
from pathlib import Path

import optuna
import pytest
import yaml

from tests.conftest import compose_config, store_uri, train_in_process


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["repeats=0"], "repeats=0: must be >= 1"),
        (["repeats=1.5"], "repeats=1.5: must be a whole number"),
        (
            ["repeats=2", "data.num_folds=3", "data.fold=1"],
            "data.fold=1 with repeats=2: the repeats train folds 0 to 1; leave data.fold unset",
        ),
        (
            ["repeats=4", "data.num_folds=3"],
            "repeats=4 with data.num_folds=3: at most one repeat per fold",
        ),
        (
            ["repeats=2", "resume=abc123"],
            "resume=abc123 with repeats=2: a run of repeats trains them again",
        ),
    ],
)
def test_repeats_that_cannot_work_are_one_line(overrides: list[str], says: str) -> None:
    from tunelab.jobs.checks import config_problems

    problems = config_problems(compose_config(overrides))
    assert len(problems) == 1 and says in problems[0], problems


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("hydra.sweeper.repeats=0", "hydra.sweeper.repeats=0: must be a whole number of trainings"),
        ("repeats=0", "repeats=0: must be a whole number >= 1"),
    ],
)
def test_a_search_with_repeats_below_one_is_one_line_before_any_trial(setting, says) -> None:
    from tests.conftest import search_problem

    assert says in search_problem(["hparams_search=digits_tpe", setting])


def test_the_mean_curve_counts_each_epoch_over_the_repeats_that_reached_it() -> None:
    from tunelab.sweeps.curves import RepeatCurves

    curves = RepeatCurves()
    curves.start_repeat()
    for epoch, value in enumerate([0.2, 0.4, 0.6]):
        curves.record(epoch, value)
    curves.start_repeat()
    curves.record(0, 0.4)
    assert curves.earlier == 1
    assert curves.mean(upto=0) == {0: pytest.approx(0.3)}
    assert curves.mean() == {0: pytest.approx(0.3), 1: 0.4, 2: 0.6}  # the first stopped later


class Validated:
    """What ReportAndPrune reads from Lightning's trainer after a validation."""

    sanity_checking, is_global_zero, world_size = False, True, 1

    def __init__(self, epoch: int, value: float) -> None:
        self.current_epoch, self.callback_metrics = epoch, {"val/acc": value}


def test_a_later_repeat_is_pruned_on_the_mean_of_the_repeats_not_on_its_own_value() -> None:
    from tunelab.sweeps.curves import RecordCurve, RepeatCurves
    from tunelab.sweeps.pruning_callback import Pruned, ReportAndPrune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for _ in range(2):  # two finished trials: the median to beat, 0.6 then 0.8 per epoch
        done = study.ask()
        for epoch, value in enumerate([0.6, 0.8, 0.8]):
            done.report(value, epoch)
        study.tell(done, 0.8)
    trial = study.ask()
    curves = RepeatCurves()
    record, report = RecordCurve(curves, "val/acc"), ReportAndPrune(trial, "val/acc", curves)

    def validate(epoch: int, value: float) -> None:
        record.on_validation_end(Validated(epoch, value), None)
        report.on_validation_end(Validated(epoch, value), None)

    curves.start_repeat()  # the first seed learns well: never pruned
    for epoch in range(3):
        validate(epoch, 0.9)
    curves.start_repeat()  # the second seed alone is below the median at once...
    validate(0, 0.4)  # ...but the mean, 0.65, is not: it goes on
    assert study.trials[2].intermediate_values[0] == pytest.approx(0.65)  # the mean, stored
    # The mean at epoch 1, 0.75, is below 0.8, and so is the best mean so far: pruned. Judged
    # with the first seed's epoch 2 (0.9, stored) it would have gone on.
    with pytest.raises(Pruned) as pruned:
        validate(1, 0.6)
    assert pruned.value.epoch == 1
    assert pruned.value.value == pytest.approx(0.75) and pruned.value.own == 0.6
    assert study.trials[2].intermediate_values == pytest.approx({0: 0.65, 1: 0.75, 2: 0.9})


def test_a_run_of_repeats_is_the_mean_of_its_folds_each_a_child_run(tmp_path) -> None:
    from mlflow import MlflowClient

    job = train_in_process(
        [
            "model=mlp",
            "model.hidden_dim=16",
            "trainer.max_epochs=1",
            "repeats=2",
            "data.num_folds=3",
            "tracking.experiment=repeats",
        ],
        tmp_path,
    )
    client = MlflowClient(store_uri(tmp_path))
    run = client.get_run(job.run.run_id)
    children = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    folds = sorted(children, key=lambda c: c.data.params["data.fold"])
    assert [c.data.params["data.fold"] for c in folds] == ["0", "1"]
    assert {c.data.params["repeats"] for c in folds} == {"1"}
    objectives = [c.data.metrics["objective"] for c in folds]
    assert run.data.metrics["objective"] == pytest.approx(statistics.fmean(objectives))
    assert job.objective == pytest.approx(statistics.fmean(objectives))
    assert run.data.metrics["objective_std"] == pytest.approx(statistics.stdev(objectives))
    test_acc = statistics.fmean(c.data.metrics["test/acc"] for c in folds)
    assert run.data.metrics["test/acc"] == pytest.approx(test_acc)
    assert "step" not in run.data.metrics
    assert run.data.tags["repeats"] == "2: fold 0, fold 1"
    # the configuration's run carries its best fold's model; each fold has its own folder
    best = max(folds, key=lambda c: c.data.metrics["objective"])
    assert run.data.tags["repeats.model_from"].startswith(best.info.run_id)
    assert run.outputs.model_outputs, "the configuration's run logged no model"
    for child in folds:
        assert child.info.run_name.endswith(f"· fold {child.data.params['data.fold']}")
        assert child.data.tags["repeat.of"] == run.info.run_id
        folder = Path(child.data.tags["hydra.output_dir"])
        assert (folder / "checkpoints" / "best.ckpt").exists()
        overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())
        assert overrides[-2:] == ["repeats=1", f"data.fold={child.data.params['data.fold']}"]


@pytest.mark.process
def test_a_search_with_repeats_tells_each_trial_the_mean_of_its_seeds(tmp_path) -> None:
    from tests.test_optuna_sweeper import load, study_sweep

    result = study_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.repeats=2",
        "hydra/sweeper/pruner=none",
        "trainer.max_epochs=2",
        "optimizer.lr=tag(log, interval(1e-3, 1e-2))",
    )
    study, client, parents, runs = load(tmp_path)
    trials = [r for r in runs if r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id]
    assert len(trials) == 2 and len(runs) == 6  # two trials, each with two seeds' runs
    for trial_run in trials:
        seeds = [r for r in runs if r.data.tags["mlflow.parentRunId"] == trial_run.info.run_id]
        assert sorted(r.data.params["seed"] for r in seeds) == ["42", "43"]
        for seed in seeds:  # the seed trained the trial's values
            assert seed.data.params["optimizer.lr"] == trial_run.data.params["optimizer.lr"]
        mean = statistics.fmean(r.data.metrics["objective"] for r in seeds)
        number = int(trial_run.data.tags["optuna.trial"])
        assert study.trials[number].value == pytest.approx(mean)
        assert trial_run.data.metrics["objective"] == pytest.approx(mean)
    trials_md = client.download_artifacts(parents[0].info.run_id, "sweep/trials.md")
    assert "| objective | objective_std |" in Path(trials_md).read_text()
    best = max(trials, key=lambda r: r.data.metrics["objective"])
    shown = f"{best.data.metrics['objective']:.4f} ± {best.data.metrics['objective_std']:.4f}"
    assert shown in parents[0].data.tags["mlflow.note.content"]  # the parent's table
    lines = [x for x in result.stdout.splitlines() if x.startswith("trial #")]
    assert len(lines) == 2 and all(" (2 seeds) (" in x for x in lines), lines
    promoted = yaml.safe_load(Path(parents[0].data.tags["promoted_to"]).read_text())
    assert promoted["repeats"] == 2  # the best trial trains again as the sweep measured it
