"""The training task: compose data, network, classifier, trainer and MLflow run; fit; test."""

import logging
import math
import traceback
from pathlib import Path
from typing import Any, cast

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from tunelab.checks import check_config
from tunelab.errors import ConfigError, UserError
from tunelab.pruning import is_pruned, optuna_trial_number, tell_pruned
from tunelab.runtime import imports_frozen_out_of_gc
from tunelab.tracking.sweep import stop_sweep, stopped_sweep_reason

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> float:
    """Train and test one model; return the objective (best validation value) for sweepers."""
    hydra_cfg = HydraConfig.get()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    if not in_sweep:
        exit_on_config_error(cfg)  # a single run stops here, before any heavy import
    elif reason := stopped_sweep_reason(hydra_cfg):
        raise RuntimeError(f"not run: the sweep was stopped ({reason})")
    with imports_frozen_out_of_gc():
        run = open_run(cfg, hydra_cfg)  # the MLflow writer opens the store while torch loads
        prepare_console(cfg)
        import_training_stack()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        check_config(cfg)  # in a sweep, a bad value makes a FAILED trial, not a dead sweep
        objective = fit_and_test(cfg, run, output_dir)
    except BaseException as error:
        if is_pruned(error):
            return trial_pruned(run, error, hydra_cfg)
        interrupted = isinstance(error, KeyboardInterrupt | SystemExit)  # Lightning exits on Ctrl-C
        record_failure(run, error, output_dir, "KILLED" if interrupted else "FAILED")
        if in_sweep and not interrupted:
            return trial_failed(cfg, hydra_cfg, error)
        if isinstance(error, UserError):  # the message says what to change; no traceback
            raise SystemExit(f"tunelab: {error}") from None
        raise
    run.end("FINISHED")
    return objective


def prepare_console(cfg: DictConfig) -> None:
    from tunelab.console import print_config, quiet_library_noise

    if cfg.get("print_config"):
        print_config(cfg)
    quiet_library_noise()


def import_training_stack() -> None:
    """torch, Lightning, torchmetrics and tunelab's modules that use them."""
    import tunelab.classifier  # noqa: F401
    import tunelab.data.datamodule  # noqa: F401
    import tunelab.trainer  # noqa: F401


def open_run(cfg: DictConfig, hydra_cfg):
    """The MLflow run of this job; in a distributed job only rank 0 tracks."""
    from tunelab.tracking.run import TrackedRun, open_writer, process_rank
    from tunelab.tracking.runinfo import run_identity

    tracking = cfg.tracking
    writer = open_writer(tracking.writer) if process_rank() == 0 else None
    identity = run_identity(cfg, hydra_cfg)
    return TrackedRun(
        writer,
        tracking.uri,
        tracking.experiment,
        identity.name,
        identity.tags,
        cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True)),
        identity.parent_run_id,
        tracking.flush_seconds,
    )


def record_failure(run, error: BaseException, output_dir: Path, status: str) -> None:
    """The error as a tag and the traceback as an artifact of the run, which ends `status`."""
    run.set_tags({"error": f"{type(error).__name__}: {error}"[:5000]})
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "error.txt").write_text(traceback.format_exc())
    run.log_artifact(output_dir / "error.txt")
    run.end(status)


def trial_pruned(run, error: BaseException, hydra_cfg) -> float:
    """A trial the Optuna study pruned: its run ends KILLED and tagged, the study records it."""
    log.info("trial %s pruned: %s", hydra_cfg.job.num, error)
    run.set_tags({"pruned": "true", "pruned.reason": str(error)})
    run.end("KILLED")
    tell_pruned(hydra_cfg.sweep.dir)
    return math.nan


def trial_failed(cfg: DictConfig, hydra_cfg, error: BaseException) -> float:
    """A failed trial: NaN and the sweep goes on, or (on_trial_error=stop) the sweep stops."""
    trial = f"trial {hydra_cfg.job.num} failed: {type(error).__name__}: {error}"
    if cfg.on_trial_error == "continue":
        log.error("%s (its run is FAILED in MLflow; the sweep goes on)", trial)
        return math.nan
    stop_sweep(hydra_cfg, trial)
    raise error


def exit_on_config_error(cfg: DictConfig) -> None:
    try:
        check_config(cfg)
    except ConfigError as error:
        raise SystemExit(f"tunelab: {error}") from None


def build_classifier(cfg: DictConfig, datamodule):
    """The network sized from the data, wrapped with its loss, optimizer, schedule and penalty."""
    from tunelab.classifier import Classifier
    from tunelab.models import build_network
    from tunelab.optim import build_optimizer, build_penalty, build_scheduler, param_groups

    reg, objective = cfg.regularization, cfg.objective
    network = build_network(cfg.model, datamodule.input_shape, datamodule.num_classes, reg.dropout)
    decay = cfg.optimizer.get("weight_decay") or 0.0
    return Classifier(
        compiled(network) if cfg.trainer.get("compile") else network,
        datamodule.num_classes,
        optimizer=build_optimizer(cfg.optimizer),
        param_groups=param_groups(network, reg.exclude_bias_and_norm, decay),
        scheduler=build_scheduler(cfg.scheduler, objective.metric, objective.mode),
        penalty=build_penalty(network, reg.penalty, reg.exclude_bias_and_norm),
        label_smoothing=reg.label_smoothing,
        objective=objective.metric,
        objective_mode=objective.mode,
        recipe={
            "config": OmegaConf.to_container(cfg, resolve=True),
            "data": datamodule.summary(),
            "classes": datamodule.data.classes,
            "normalize": datamodule.normalization(),
        },
    )


def compiled(network):
    """network.compile() compiles in place, so checkpoints keep the plain parameter names."""
    network.compile()
    return network


def fit_and_test(cfg: DictConfig, run, output_dir: Path) -> float:
    import lightning as L

    from tunelab.console import print_results
    from tunelab.data.datamodule import build_datamodule
    from tunelab.tracking.lightning_logger import RunLogger
    from tunelab.tracking.tags import device_tags
    from tunelab.trainer import best_checkpoint, build_callbacks, build_trainer

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(cfg.data)
    classifier = build_classifier(cfg, datamodule)
    callbacks = build_callbacks(cfg.callbacks)
    if optuna_trial_number() is not None:  # a trial of the Optuna sweeper: report each epoch
        from tunelab.pruning import pruning_callback

        callbacks.append(pruning_callback(HydraConfig.get().sweep.dir, cfg.objective.metric))
    run.wait_started()  # a store that cannot be opened stops the job here, before training
    trainer = build_trainer(cfg, callbacks, RunLogger(run))
    run.set_tags({**device_tags(trainer.strategy.root_device), **data_tags(datamodule)})
    if datamodule.data.info:  # label mapping, columns, folders
        run.log_dict(datamodule.data.info, "data_info.json")
    save_config(cfg, output_dir, run)

    trainer.fit(classifier, datamodule=datamodule)
    best = best_checkpoint(trainer)
    if best and cfg.tracking.log_checkpoint:
        run.log_artifact(best, "checkpoints")
    run.flush()  # the writer stores the epochs while the test runs, not after it
    results = trainer.test(classifier, datamodule=datamodule, ckpt_path=best, verbose=False)
    objective = float(classifier.best.compute())
    run.log_metrics({"objective": objective, "epochs_trained": trainer.current_epoch})
    for report in sorted((output_dir / "profile").glob("*.txt")):  # debug=profile
        run.log_artifact(report, "profile")
    if run.run_id:  # not on the other ranks of a distributed job
        print_results(
            dict(results[0]),
            run.run_id,
            cfg.tracking.uri,
            (f"{cfg.objective.metric}_best", objective),
        )
    return objective


def data_tags(datamodule) -> dict[str, str]:
    tags = {f"data.{k}": str(v) for k, v in datamodule.summary().items()}
    tags["data.classes"] = ", ".join(datamodule.data.classes)[:5000]
    return tags


def save_config(cfg: DictConfig, output_dir: Path, run) -> None:
    """The resolved config and the overrides, beside the run's outputs and in MLflow."""
    output_dir.mkdir(parents=True, exist_ok=True)
    config_file = output_dir / "config.yaml"
    OmegaConf.save(cfg, config_file, resolve=True)
    run.log_artifact(config_file)
    overrides = output_dir / ".hydra" / "overrides.yaml"
    if overrides.exists():
        run.log_artifact(overrides)
