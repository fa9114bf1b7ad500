"""Checks of user-settable values, run before torch is imported and before training starts.

Hydra already rejects unknown groups, choices and keys; these catch what it lets through:
keys left unset (`???`), values of the wrong type (`optimizer.lr=abc`), values of the right
type that make no sense (a negative learning rate, a monitor that is never logged, no epochs)
and data files that cannot be read.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from tunelab.errors import ConfigError
from tunelab.schedules import HORIZON_ARGS
from tunelab.tasks import EXPORT_TEST_METRICS, TASKS, monitorable

# The loss choices (conf/loss) each task can train with, by _target_.
TASK_LOSSES = {
    "classification": ("torch.nn.CrossEntropyLoss",),
    "regression": (
        "torch.nn.MSELoss",
        "torch.nn.L1Loss",
        "torch.nn.HuberLoss",
        "torch.nn.SmoothL1Loss",
    ),
}


def _unset(cfg: DictConfig) -> Iterator[str]:
    if missing := sorted(OmegaConf.missing_keys(cfg)):
        keys = " ".join(f"{key}=VALUE" for key in missing)
        yield f"{', '.join(missing)} not set (???): add {keys} to the command"


# Keys that must hold a number (int: a whole one) when set; the rest of the checks and the
# libraries behind them compare and compute with these. None (null) is allowed here.
NUMBERS: dict[str, type] = {
    "seed": int,
    "optimizer.lr": float,
    "optimizer.weight_decay": float,
    "optimizer.momentum": float,
    "data.batch_size": int,
    "data.split.val": float,
    "data.split.test": float,
    "data.split.seed": int,
    "data.fold": int,
    "data.num_folds": int,
    "data.num_workers": int,
    "regularization.dropout": float,
    "regularization.label_smoothing": float,
    "regularization.gradient_clip_val": float,
    "regularization.penalty.l1": float,
    "regularization.penalty.l2": float,
    "trainer.max_epochs": int,
    "trainer.max_steps": int,
    "trainer.min_epochs": int,
    "trainer.limit_train_batches": float,
    "trainer.limit_val_batches": float,
    "trainer.limit_test_batches": float,
    "tracking.flush_seconds": float,
}


def _types(cfg: DictConfig) -> Iterator[str]:
    yield from _numbers(cfg, NUMBERS)


def _numbers(cfg: DictConfig, numbers: dict[str, type]) -> Iterator[str]:
    for key, kind in numbers.items():
        value = OmegaConf.select(cfg, key, default=None)
        allowed = (int,) if kind is int else (int, float)
        if value is not None and (isinstance(value, bool) or not isinstance(value, allowed)):
            what = "a whole number" if kind is int else "a number"
            yield f"{key}={value}: must be {what}"


def _budget(cfg: DictConfig) -> Iterator[str]:
    trainer = cfg.trainer
    if trainer.get("max_epochs") == 0 or trainer.get("max_steps") == 0:
        key = "max_epochs" if trainer.get("max_epochs") == 0 else "max_steps"
        yield f"trainer.{key}=0 trains nothing: set it >= 1 (-1: no limit)"
    if trainer.get("limit_train_batches") == 0:
        yield "trainer.limit_train_batches=0 trains nothing: set a share (0.1) or a count (10)"


def _files(cfg: DictConfig) -> Iterator[str]:
    """The data source's file (`path`) or folder (`root`) exists and can be read; a source that
    can download (`download`) makes its own folder."""
    source = cfg.data.source
    path = source.get("path") if isinstance(source, DictConfig) else None
    if isinstance(path, str):
        if not Path(path).is_file():
            what = "is a folder" if Path(path).is_dir() else "does not exist"
            yield f"data.source.path={path} {what}: name a file"
        elif not _readable(path):
            yield f"data.source.path={path} cannot be read (permission denied)"
    root = source.get("root") if isinstance(source, DictConfig) else None
    if isinstance(root, str) and "download" not in source:
        if not Path(root).is_dir():
            yield f"data.source.root={root} is not a folder: name the folder that holds the data"
        elif not os.access(root, os.R_OK | os.X_OK):
            yield f"data.source.root={root} cannot be read (permission denied)"


def _readable(path: str) -> bool:
    # Opening tells the truth where os.access does not (root may read everything it asks about).
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def _positive(cfg: DictConfig) -> Iterator[str]:
    lr = cfg.optimizer.get("lr")
    if lr is not None and not lr > 0:
        yield f"optimizer.lr={lr}: the learning rate must be > 0"
    if cfg.data.batch_size < 1:
        yield f"data.batch_size={cfg.data.batch_size}: must be >= 1"


def _non_negative(cfg: DictConfig) -> Iterator[str]:
    reg = cfg.regularization
    values = {
        "optimizer.weight_decay": cfg.optimizer.get("weight_decay"),
        "regularization.penalty.l1": (reg.penalty or {}).get("l1"),
        "regularization.penalty.l2": (reg.penalty or {}).get("l2"),
        "regularization.gradient_clip_val": reg.get("gradient_clip_val"),
    }
    for key, value in values.items():
        if value is not None and value < 0:
            yield f"{key}={value}: must be >= 0 (0 turns it off)"
    if not 0 <= reg.dropout < 1:
        yield f"regularization.dropout={reg.dropout}: must be in [0, 1)"
    if not 0 <= reg.label_smoothing < 1:
        yield f"regularization.label_smoothing={reg.label_smoothing}: must be in [0, 1)"
    if reg.gradient_clip_algorithm not in ("norm", "value"):
        yield f"regularization.gradient_clip_algorithm={reg.gradient_clip_algorithm}: allowed: norm, value"


def _task(cfg: DictConfig) -> Iterator[str]:
    task = cfg.get("task", "classification")
    if task not in TASKS:
        yield f"task={task}: allowed: {', '.join(TASKS)}"
        return
    loss = (cfg.get("loss") or {}).get("_target_")
    if loss not in TASK_LOSSES[task]:
        fits = [t for t, losses in TASK_LOSSES.items() if loss in losses]
        yield (
            f"loss: {loss} is {'a ' + fits[0] if fits else 'not a known'} loss; task={task} trains with "
            + ("loss=mse, loss=mae or loss=huber" if task == "regression" else "loss=cross_entropy")
        )
    if task == "regression" and cfg.regularization.get("label_smoothing"):
        yield "regularization.label_smoothing is for classification: set it to 0 with task=regression"


def _monitors(cfg: DictConfig) -> Iterator[str]:
    allowed_metrics = monitorable(cfg.get("task", "classification"))
    allowed = ", ".join(allowed_metrics)
    if cfg.objective.metric not in allowed_metrics:
        yield f"objective.metric={cfg.objective.metric}: allowed: {allowed}"
    if cfg.objective.mode not in ("min", "max"):
        yield f"objective.mode={cfg.objective.mode}: allowed: min, max"
    for name, callback in (cfg.get("callbacks") or {}).items():
        monitor = (callback or {}).get("monitor")
        if monitor is not None and monitor not in allowed_metrics:
            yield f"callbacks.{name}.monitor={monitor}: allowed: {allowed}"
        mode = (callback or {}).get("mode")
        if mode is not None and mode not in ("min", "max"):
            yield f"callbacks.{name}.mode={mode}: allowed: min, max"


def _scheduler(cfg: DictConfig) -> Iterator[str]:
    allowed_metrics = monitorable(cfg.get("task", "classification"))
    scheduler = cfg.get("scheduler") or {}
    interval = scheduler.get("interval", "epoch")
    if interval not in ("epoch", "step"):
        yield f"scheduler.interval={interval}: allowed: epoch, step"
    monitor = scheduler.get("monitor")
    if monitor is not None and monitor not in allowed_metrics:
        yield f"scheduler.monitor={monitor}: allowed: {', '.join(allowed_metrics)}"
    needs_length = [k for k in HORIZON_ARGS if k in scheduler and scheduler[k] is None]
    trainer = cfg.trainer
    length_known = (trainer.get("max_epochs") or -1) > 0 or (trainer.get("max_steps") or -1) > 0
    if needs_length and not length_known:
        key = needs_length[0]
        yield (
            f"scheduler.{key}=null needs the run's length, and the run has none: "
            f"set trainer.max_epochs or trainer.max_steps (> 0), or scheduler.{key}"
        )


def _data(cfg: DictConfig) -> Iterator[str]:
    data = cfg.data
    split = data.split
    test = split.test or 0.0  # null: the source fixes its test split
    if not (0 < split.val < 1 and 0 <= test < 1 and split.val + test < 1):
        yield f"data.split.val={split.val}, data.split.test={split.test}: each in (0, 1), together < 1"
    folds, fold = data.get("num_folds"), data.get("fold")
    if (folds is None) != (fold is None):
        yield "data.fold and data.num_folds: set both (k-fold validation) or neither"
    elif folds is not None and not (folds >= 2 and 0 <= fold < folds):
        yield f"data.fold={fold}, data.num_folds={folds}: need num_folds >= 2 and 0 <= fold < num_folds"
    if data.get("in_memory") not in ("auto", True, False):
        yield f"data.in_memory={data.get('in_memory')}: allowed: auto, true, false"


def _tracking(cfg: DictConfig) -> Iterator[str]:
    tracking = cfg.tracking
    if tracking.writer not in ("process", "inline"):
        yield f"tracking.writer={tracking.writer}: allowed: process, inline"
    if not tracking.flush_seconds >= 0:
        yield f"tracking.flush_seconds={tracking.flush_seconds}: must be >= 0 (0: write every log call)"


def _sweep(cfg: DictConfig) -> Iterator[str]:
    if cfg.get("on_trial_error", "continue") not in ("continue", "stop"):
        yield f"on_trial_error={cfg.on_trial_error}: allowed: continue, stop"


# Checked first: every other check reads these values and would fail on them.
SHAPE_CHECKS: list[Callable[[DictConfig], Iterator[str]]] = [_unset, _types]
CHECKS: list[Callable[[DictConfig], Iterator[str]]] = [
    _budget,
    _files,
    _positive,
    _non_negative,
    _task,
    _monitors,
    _scheduler,
    _data,
    _tracking,
    _sweep,
]


def config_problems(cfg: DictConfig) -> list[str]:
    problems = [problem for check in SHAPE_CHECKS for problem in check(cfg)]
    return problems or [problem for check in CHECKS for problem in check(cfg)]


def config_error(cfg: DictConfig) -> ConfigError | None:
    """A ConfigError naming every bad key, its value and what is allowed; None when all is well."""
    problems = config_problems(cfg)
    if not problems:
        return None
    if len(problems) == 1:  # one line
        return ConfigError(f"invalid config: {problems[0]}")
    return ConfigError("invalid config:\n  " + "\n  ".join(problems))


def model_selector_error(
    ckpt_path: str | None, run_id: str | None, model_uri: str | None
) -> str | None:
    """eval.py names its model with exactly one of three keys; a path must exist."""
    given = [
        k for k, v in (("ckpt_path", ckpt_path), ("run_id", run_id), ("model_uri", model_uri)) if v
    ]
    if len(given) != 1:
        named = f" (got {', '.join(given)})" if given else ""
        return f"name one model: ckpt_path=PATH, run_id=ID or model_uri=models:/NAME@ALIAS{named}"
    if ckpt_path and not Path(ckpt_path).is_file():
        return f"checkpoint {ckpt_path} does not exist: set ckpt_path to a .ckpt file of a run"
    return None


def eval_config_error(cfg: DictConfig) -> str | None:
    """What eval.py can tell from its config alone, before torch and MLflow are imported."""
    if cfg.mode not in ("evaluate", "predict"):
        return f"mode={cfg.mode}: choose evaluate or predict"
    if cfg.mode == "predict" and not cfg.input:
        return "mode=predict needs input=PATH: an image folder or a CSV file"
    if cfg.mode == "predict" and not Path(cfg.input).exists():
        return f"input {cfg.input} does not exist: set input= to an image folder or a CSV file"
    return model_selector_error(cfg.ckpt_path, cfg.run_id, cfg.model_uri)


# What export.py can make (tunelab.export, in this order), named here so the check imports no torch.
EXPORT_VARIANTS = ("onnx", "pt2", "int8_dynamic", "int8_static", "pruned", "channels")
# Each variant's metrics in the export run, as VARIANT/NAME; one can be a sweep's objective.
EXPORT_METRICS = (
    *(name for names in EXPORT_TEST_METRICS.values() for name in names),
    "size_kib",
    "gzip_kib",
    "size_ratio",
    "nonzero",
)
EXPORT_NUMBERS: dict[str, type] = {
    "export.finetune_epochs": int,
    "export.tolerance": float,
    "prune.sparsity": float,
    "prune.channels": float,
    "quantize.calibration_batches": int,
    "latency.repeats": int,
    "latency.warmup": int,
}
EXPORT_EXTRA = ("onnx", "onnxruntime", "onnxscript")  # the `export` extra in pyproject.toml


def export_config_error(cfg: DictConfig) -> str | None:
    """What export.py can tell from its config alone, before torch and MLflow are imported."""
    import importlib.util

    if missing := [m for m in EXPORT_EXTRA if importlib.util.find_spec(m) is None]:
        return (
            f"python export.py needs {', '.join(missing)}: install the export extra, "
            "pip install -e '.[export]' (make installs it)"
        )
    if problem := next(_numbers(cfg, EXPORT_NUMBERS), None):
        return problem
    if unset := [k for k in EXPORT_NUMBERS if OmegaConf.select(cfg, k) is None]:
        return f"{unset[0]}=null: must be a number"
    variants = list(cfg.export.variants or [])
    if unknown := [v for v in variants if v not in EXPORT_VARIANTS]:
        return f"export.variants: unknown {', '.join(map(str, unknown))}; choose from {', '.join(EXPORT_VARIANTS)}"
    if not variants:
        return f"export.variants is empty: name at least one of {', '.join(EXPORT_VARIANTS)}"
    for key in ("prune.sparsity", "prune.channels"):
        if not 0 <= OmegaConf.select(cfg, key) < 1:
            return f"{key}={OmegaConf.select(cfg, key)}: must be in [0, 1) (the fraction removed)"
    if cfg.export.finetune_epochs < 0:
        return (
            f"export.finetune_epochs={cfg.export.finetune_epochs}: must be >= 0 (0: no fine-tune)"
        )
    if cfg.latency.repeats < 1 or cfg.latency.warmup < 0 or not cfg.latency.batch_sizes:
        return "latency: repeats must be >= 1, warmup >= 0, batch_sizes a list of sizes"
    if bad := [b for b in cfg.latency.batch_sizes if type(b) is not int or b < 1]:
        return f"latency.batch_sizes: {bad[0]} is not a batch size (a whole number >= 1)"
    variant, _, metric = str(cfg.objective.metric).partition("/")
    if variant not in EXPORT_VARIANTS or metric not in EXPORT_METRICS:
        return (
            f"objective.metric={cfg.objective.metric}: name VARIANT/METRIC, a variant of "
            f"{', '.join(EXPORT_VARIANTS)} and a metric of {', '.join(EXPORT_METRICS)}"
        )
    if cfg.objective.mode not in ("min", "max"):
        return f"objective.mode={cfg.objective.mode}: choose min or max"
    return model_selector_error(cfg.ckpt_path, cfg.run_id, cfg.model_uri)


# Hydra launchers from other packages: the plugin module each needs, and tunelab's extra for it.
LAUNCHER_PLUGINS = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "the project itself"),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", "launchers"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "launchers"),
    "ray": ("ray", "ray"),  # tunelab's own plugin (hydra_plugins.tunelab_ray_launcher) needs Ray
}


def launcher_error(args: list[str]) -> str | None:
    """`hydra/launcher=NAME` on the command line whose plugin is not installed: which extra to
    install (Hydra would only say the choice does not exist); a Ray address that does not
    answer. Before Hydra starts, so no sweep run is opened."""
    import importlib.util

    from tunelab.overrides import override_key, override_value

    settings = {override_key(a): override_value(a) for a in args if "=" in a}
    launcher = settings.get("hydra/launcher")
    module, extra = LAUNCHER_PLUGINS.get(launcher or "", (None, ""))
    if module and importlib.util.find_spec(module) is None:
        return (
            f"hydra/launcher={launcher} needs {module}: install the {extra} extra, "
            f"pip install -e '.[{extra}]' (make installs it)"
        )
    address = settings.get("hydra.launcher.address")
    if launcher == "ray" and address and address != "null":
        from hydra_plugins.tunelab_ray_launcher._core import CONNECT_SECONDS, answers

        if not answers(address):
            return (
                f"hydra.launcher.address={address}: no Ray cluster answers there within "
                f"{CONNECT_SECONDS} s: start one (ray start --head) or fix the address"
            )
    return None


def sweep_storage_error(config: DictConfig) -> str | None:
    """The Optuna sweeper's storage, a database URL whose server cannot be reached: one line,
    checked before the sweep opens its run (Optuna would fail at its first trial)."""
    from tunelab.tracking.reachable import database_problem, is_database_url

    storage = config.hydra.sweeper.get("storage") or ""
    if not is_database_url(storage):
        return None
    if problem := database_problem(storage):
        return f"hydra.sweeper.storage={storage}: {problem}: start the database or fix the URL"
    return None
