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

from tunelab import CONF
from tunelab.errors import ConfigError
from tunelab.export import RENAMED
from tunelab.export import VARIANTS as EXPORT_VARIANTS
from tunelab.jobs.schema import EXPORT, TRAIN, type_problems, value_problems
from tunelab.tasks import EXPORT_TEST_METRICS, LOSSES, TASKS, monitorable
from tunelab.tracking.selection import model_selector_error
from tunelab.training.schedules import HORIZON_ARGS


def _unset(cfg: DictConfig) -> Iterator[str]:
    if missing := sorted(OmegaConf.missing_keys(cfg)):
        keys = " ".join(f"{key}=VALUE" for key in missing)
        yield f"{', '.join(missing)} not set (???): add {keys} to the command"


def _types(cfg: DictConfig) -> Iterator[str]:
    yield from type_problems(cfg, TRAIN)


def _values(cfg: DictConfig) -> Iterator[str]:
    yield from value_problems(cfg, TRAIN)


def _budget(cfg: DictConfig) -> Iterator[str]:
    trainer = cfg.trainer
    if trainer.get("max_epochs") == 0 or trainer.get("max_steps") == 0:
        key = "max_epochs" if trainer.get("max_epochs") == 0 else "max_steps"
        yield f"trainer.{key}=0 trains nothing: set it >= 1 (-1: no limit)"
    if trainer.get("limit_train_batches") == 0:
        yield "trainer.limit_train_batches=0 trains nothing: set a share (0.1) or a count (10)"


def _repeats(cfg: DictConfig) -> Iterator[str]:
    repeats, resume = cfg.get("repeats") or 1, cfg.get("resume")
    if repeats > 1 and resume:
        yield (
            f"resume={resume} with repeats={repeats}: a run of repeats trains them again, it "
            f"does not continue: use reproduce={resume}"
        )


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
    vectors = (cfg.get("word_vectors") or {}).get("path")
    if isinstance(vectors, str) and not Path(vectors).is_file():
        yield f"word_vectors.path={vectors} does not exist: name a GloVe or word2vec text file"
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


def _task(cfg: DictConfig) -> Iterator[str]:
    task = cfg.get("task", "classification")
    if task not in TASKS:
        yield f"task={task}: allowed: {', '.join(TASKS)}"
        return
    loss = (cfg.get("loss") or {}).get("_target_")
    if loss not in LOSSES[task]:
        fits = [t for t, losses in LOSSES.items() if loss in losses]
        yield (
            f"loss: {loss} is {'a ' + fits[0] if fits else 'not a known'} loss; task={task} "
            f"trains with {loss_choices(task)}"
        )
    if task == "regression" and cfg.regularization.get("label_smoothing"):
        yield "regularization.label_smoothing is for classification: set it to 0 with task=regression"


def loss_choices(task: str) -> str:
    """The conf/loss choices `task` trains with, as a user types them: loss=mse or loss=mae."""
    import yaml

    choices = [
        f"loss={path.stem}"
        for path in sorted((CONF / "loss").glob("*.yaml"))
        if (yaml.safe_load(path.read_text()) or {}).get("_target_") in LOSSES[task]
    ]
    return ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]


def _objectives(cfg: DictConfig) -> Iterator[str]:
    from tunelab.sweeps.objectives import objective_problems

    yield from objective_problems(cfg)


def _monitors(cfg: DictConfig) -> Iterator[str]:
    allowed_metrics = monitorable(cfg.get("task", "classification"))
    allowed = ", ".join(allowed_metrics)
    if cfg.objective.metric not in allowed_metrics:
        yield f"objective.metric={cfg.objective.metric}: allowed: {allowed}"
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
    folds, fold, repeats = data.get("num_folds"), data.get("fold"), cfg.get("repeats") or 1
    if repeats > 1 and folds is not None:  # the repeats are the folds (tunelab.jobs.repeats)
        if fold is not None:
            yield (
                f"data.fold={fold} with repeats={repeats}: the repeats train folds 0 to "
                f"{repeats - 1}; leave data.fold unset"
            )
        elif not 2 <= repeats <= folds:
            yield f"repeats={repeats} with data.num_folds={folds}: at most one repeat per fold"
    elif (folds is None) != (fold is None):
        yield "data.fold and data.num_folds: set both (k-fold validation) or neither"
    elif folds is not None and not (folds >= 2 and 0 <= fold < folds):
        yield f"data.fold={fold}, data.num_folds={folds}: need num_folds >= 2 and 0 <= fold < num_folds"


# Checked first: every other check reads these values and would fail on them.
SHAPE_CHECKS: list[Callable[[DictConfig], Iterator[str]]] = [_unset, _types]
CHECKS: list[Callable[[DictConfig], Iterator[str]]] = [
    _budget,
    _repeats,
    _files,
    _values,
    _task,
    _monitors,
    _objectives,
    _scheduler,
    _data,
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


def baseline_config_error(cfg: DictConfig) -> str | None:
    """baseline.py's config: its data keys, as training checks them."""
    problems = [p for check in (_unset, _files, _data) for p in check(cfg)]
    if not problems:
        return None
    return "invalid config: " + ("\n  ".join(["", *problems]) if len(problems) > 1 else problems[0])


def eval_config_error(cfg: DictConfig) -> str | None:
    """What eval.py can tell from its config alone, before torch and MLflow are imported."""
    if cfg.mode not in ("evaluate", "predict"):
        return f"mode={cfg.mode}: choose evaluate or predict"
    if cfg.mode == "predict" and not cfg.input:
        return "mode=predict needs input=PATH: an image folder or a CSV file"
    if cfg.mode == "predict" and not Path(cfg.input).exists():
        return f"input {cfg.input} does not exist: set input= to an image folder or a CSV file"
    return model_selector_error(cfg.ckpt_path, cfg.run_id, cfg.model_uri)


# Each variant's metrics in the export run, as VARIANT/NAME; one can be a sweep's objective.
EXPORT_METRICS = (
    *(name for names in EXPORT_TEST_METRICS.values() for name in names),
    "size_kib",
    "gzip_kib",
    "size_ratio",
    "nonzero",
)
EXPORT_EXTRA = ("onnx", "onnxruntime", "onnxscript")  # the `export` extra in pyproject.toml


def export_config_error(cfg: DictConfig) -> str | None:
    """What export.py can tell from its config alone, before torch and MLflow are imported."""
    import importlib.util

    if missing := [m for m in EXPORT_EXTRA if importlib.util.find_spec(m) is None]:
        return (
            f"python export.py needs {', '.join(missing)}: install the export extra, "
            "pip install -e '.[export]' (make installs it)"
        )
    if problem := next(type_problems(cfg, EXPORT), None):
        return problem
    variants = list(cfg.export.variants or [])
    if renamed := [v for v in variants if v in RENAMED]:
        return f"export.variants: {renamed[0]} is now {RENAMED[renamed[0]]}"
    if unknown := [v for v in variants if v not in EXPORT_VARIANTS]:
        return f"export.variants: unknown {', '.join(map(str, unknown))}; choose from {', '.join(EXPORT_VARIANTS)}"
    if not variants:
        return f"export.variants is empty: name at least one of {', '.join(EXPORT_VARIANTS)}"
    if problem := next(value_problems(cfg, EXPORT), None):
        return problem
    if cfg.latency.calls < 1 or cfg.latency.warmup < 0 or not cfg.latency.batch_sizes:
        return "latency: calls must be >= 1, warmup >= 0, batch_sizes a list of sizes"
    if bad := [b for b in cfg.latency.batch_sizes if type(b) is not int or b < 1]:
        return f"latency.batch_sizes: {bad[0]} is not a batch size (a whole number >= 1)"
    variant, _, metric = str(cfg.objective.metric).partition("/")
    if variant not in EXPORT_VARIANTS or metric not in EXPORT_METRICS:
        return (
            f"objective.metric={cfg.objective.metric}: name VARIANT/METRIC, a variant of "
            f"{', '.join(EXPORT_VARIANTS)} and a metric of {', '.join(EXPORT_METRICS)}"
        )
    return model_selector_error(cfg.ckpt_path, cfg.run_id, cfg.model_uri)
