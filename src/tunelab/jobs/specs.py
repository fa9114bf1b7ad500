"""The three jobs, as run_job (tunelab.jobs.wrapper) runs them: each one's config check, its
pipeline (imported when it runs: checking a config never loads torch), and for training the
run opened before the pipeline, while torch loads."""

from omegaconf import DictConfig, open_dict

from tunelab.jobs.checks import config_error, eval_config_error, export_config_error
from tunelab.jobs.wrapper import Job, JobSpec, prepare_console, resolved_config
from tunelab.tracking.run import TrackedRun


def check_training(cfg: DictConfig) -> str | None:
    problem = config_error(cfg)
    return str(problem) if problem else None


def check_baseline(cfg: DictConfig) -> str | None:
    """The data and task keys baseline.py shares with training (the same checks)."""
    from tunelab.jobs.checks import baseline_config_error

    return baseline_config_error(cfg)


def open_training_run(cfg: DictConfig, job: Job) -> TrackedRun:
    """The training run, opened as the job starts (its store opens in the writer process
    while this one imports torch and Lightning); a sweep's trial unfinished in an earlier
    sweep, or requeued, continues in its own run."""
    from tunelab.cli.redact import mask_text
    from tunelab.cli.runtime import (
        imports_frozen_out_of_gc,
        process_rank,
        remember_trial_command,
    )
    from tunelab.sweeps.state import earlier_trial, trial_identity
    from tunelab.tracking.identity import data_label, job_identity
    from tunelab.tracking.run import open_run, relaunched_run
    from tunelab.training.rerun import recorded_source, rerun_tags

    hydra_cfg = job.hydra_cfg
    if job.in_sweep:  # a DDP trial's other ranks run this trial, not the sweep
        remember_trial_command(list(hydra_cfg.overrides.task), job.output_dir)
    if job.in_sweep and (earlier := earlier_trial(hydra_cfg)):  # unfinished in an earlier sweep
        with open_dict(cfg):
            cfg.resume = earlier["run_id"]  # continues in its run, from its last checkpoint
    elif job.in_sweep and (stopped := relaunched_run(job.output_dir)):  # requeued
        with open_dict(cfg):
            cfg.resume = stopped
    with imports_frozen_out_of_gc():
        # The run's name shows them (a baseline has no optimizer).
        lr, fold = (cfg.get("optimizer") or {}).get("lr"), cfg.data.get("fold")
        data = data_label(cfg, hydra_cfg.runtime.choices.get("data"))
        trial = trial_identity(hydra_cfg) if job.in_sweep else None  # (parent, tags, name)
        identity = job_identity(hydra_cfg, cfg.paths.root_dir, lr, fold, data, trial)
        if not job.in_sweep and process_rank() == 0:  # what this run is, before anything else
            overrides = " ".join(hydra_cfg.overrides.task) or "no overrides"
            print(mask_text(f"run {identity.name}: {overrides}"), flush=True)
        config = resolved_config(cfg)
        source = recorded_source(cfg)  # resume=RUN_ID, reproduce=RUN_ID: the recorded run
        identity.tags.update(rerun_tags(cfg))
        run = open_run(
            cfg.tracking,
            config,
            identity,
            job.output_dir,
            resume_run_id=cfg.get("resume"),
            data_fingerprint=source.tags.get("data.fingerprint") if source else None,
        )
        prepare_console(config if cfg.get("print_config") else None)  # imports Lightning, torch
    return run


def train(cfg: DictConfig, job: Job) -> float:
    """One training, or repeats=N of it (tunelab.jobs.repeats); in an Optuna trial, its costs
    told to the study (what further objectives and constraints read)."""
    from tunelab.sweeps.objectives import cost_wanted
    from tunelab.sweeps.pruning import record_results

    assert job.run is not None  # open_training_run opened it
    if cfg.get("lr_find"):  # a learning rate found, not a model trained
        return find_learning_rate(cfg, job)
    job.objective_name = f"{cfg.objective.metric}_best"
    costs = None  # what measures the best model's cost/*, when a search or cost.measure asks
    if cost_wanted(cfg, job.hydra_cfg.sweeper.get("constraints")):
        from tunelab.export.cost import measure_cost

        costs = measure_cost
    if (cfg.get("repeats") or 1) > 1:
        from tunelab.jobs.repeats import train_repeats

        objective = train_repeats(cfg, job, costs)
    else:
        from tunelab.training.pipeline import train

        trained = train(cfg, job.run, quiet=job.in_sweep, measure_cost=costs)
        objective, job.results = trained.objective, {**trained.test, **trained.costs}
    if job.in_sweep:
        record_results(job.hydra_cfg.sweep.dir, job.results)
    return objective


def find_learning_rate(cfg: DictConfig, job: Job) -> float:
    """lr_find=true: the finder's suggestion, recorded on the run (tunelab.training.lr_find)."""
    from pathlib import Path

    from tunelab.training import lr_find

    assert job.run is not None
    job.run.wait_started()  # a store that cannot be reached stops the job before the finder
    folder = Path(job.output_dir) / "lr_find"
    found = lr_find.find_learning_rate(cfg, folder)
    lr_find.record_finding(job.run, found, folder, list(job.hydra_cfg.overrides.task))
    job.objective_name = "lr_find/suggestion"
    job.results = {"lr_find/suggestion": found.suggestion}
    return found.suggestion


def baseline(cfg: DictConfig, job: Job) -> float:
    """A scikit-learn model on the training split; the validation headline metric."""
    from tunelab.analysis.baselines import fit_baseline
    from tunelab.tasks import headline

    assert job.run is not None  # open_training_run opened it
    job.objective_name = headline(cfg.task, "val")  # what fit_baseline returns
    objective, job.results = fit_baseline(cfg, job.run)
    if not job.in_sweep:  # a sweep's trial prints one line when it ends
        from tunelab.cli.console import print_metrics

        name = str(cfg.estimator[cfg.task]._target_).rsplit(".", 1)[-1]
        print_metrics(job.results, name)
    return objective


def evaluate(cfg: DictConfig, job: Job) -> float:
    from tunelab.cli.runtime import import_lightning

    import_lightning()  # first, as training does: without scipy.signal
    from tunelab.evaluation.pipeline import evaluate_or_predict

    return evaluate_or_predict(cfg, job)


def export(cfg: DictConfig, job: Job) -> float:
    from tunelab.cli.runtime import import_lightning

    import_lightning()  # first, as training does: without scipy.signal
    from tunelab.export.pipeline import export_model

    return export_model(cfg, job)


TRAIN = JobSpec("train", check_training, train, open_first=open_training_run)
BASELINE = JobSpec("baseline", check_baseline, baseline, open_first=open_training_run)


def eval_kind(cfg: DictConfig) -> str:
    return "predict" if cfg.get("mode") == "predict" else "evaluate"


EVAL = JobSpec("eval", eval_config_error, evaluate, run_kind=eval_kind)
EXPORT = JobSpec("export", export_config_error, export, run_kind=lambda cfg: "export")
