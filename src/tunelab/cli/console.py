"""What a run prints: the composed config at start, the results at the end, and no noise."""

import logging
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table
from rich.tree import Tree

from tunelab.cli.runtime import import_lightning, process_rank

console = Console()


def print_config(config: dict[str, Any]) -> None:
    """The resolved config as a tree, one branch per group."""
    tree = Tree("[bold]config[/bold]")
    for group, node in config.items():
        text = yaml.safe_dump(node, sort_keys=False) if isinstance(node, dict) else str(node)
        tree.add(f"[bold cyan]{group!s}[/bold cyan]").add(
            Syntax(text.strip(), "yaml", background_color="default")
        )
    console.print(tree)


def browse_command(uri: str) -> str:
    """The `mlflow ui` command for this store, short when run from the folder that holds it."""
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///")).resolve()
        if db.parent == Path.cwd().resolve():
            uri = f"sqlite:///{db.name}"
    return f"mlflow ui --backend-store-uri {uri}"


def print_results(
    metrics: Mapping[str, float],
    objective_name: str,
    objective: float,
    title: str = "test, best checkpoint",
    spread: str = "",
) -> None:
    """The test metrics as a table, then the objective (on rank 0 of a distributed job only);
    spread: repeats=N's ` ± std (N seeds)`."""
    if process_rank() != 0:
        return
    print_metrics(metrics, title)
    console.print(f"objective {objective_name} = {objective:.4f}{spread}")


def print_metrics(metrics: Mapping[str, float], title: str) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in sorted(metrics.items()):
        if name != "step":
            table.add_row(name, f"{value:.4f}")
    console.print(table)


def trial_line(name: str, result: str, seconds: float) -> str:
    """A sweep's trial as it ends, in one line: `trial #3 adamw lr=1e-3: finished, val/acc_best
    0.9704 (2.1 s)`."""
    return f"trial {name}: {result} ({seconds:.1f} s)"


# `mlflow ui` serves here unless told otherwise.
LOCAL_UI = "http://127.0.0.1:5000"


def run_link(uri: str, experiment_id: str, run_id: str) -> str:
    """The run's page in the MLflow UI, in its Model training view: MLflow 3 opens on the GenAI
    view (traces) unless the link or the sidebar switch says `workflowType=machine_learning`
    (the short form #/runs/ID drops that on its redirect, and files the run as an evaluation)."""
    base = uri.rstrip("/") if uri.startswith(("http://", "https://")) else LOCAL_UI
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"


def print_run(
    run_id: str, experiment_id: str, uri: str, what: str = "MLflow run", folder: str | None = None
) -> None:
    """The run's id, its page in the UI, for a local store the command that serves it, and the
    job's output folder."""
    # Plain prints: these lines are copied, so rich must not wrap them.
    from tunelab.cli.redact import mask_text

    print(f"{what}: {run_id}")
    print(f"open it:    {mask_text(run_link(uri, experiment_id, run_id))}")
    if not uri.startswith(("http://", "https://")):
        print(f"served by:  {mask_text(browse_command(uri))}")
    if folder:
        print(f"files in:   {folder}")


# Library messages a user can do nothing about. Everything else still shows.
NOISE_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\).*",  # lightning's use of a deprecated torch API
    r".*does not have many workers.*",  # in-memory batches need no workers
    r".*smaller than the logging interval.*",  # tiny data sets: epoch metrics still logged
)
NOISE_MESSAGES = (
    "💡 Tip",  # lightning's advertisements
    # ONNX Runtime's int8 quantizer, for each tensor it leaves in float (root logger, INFO): what
    # was quantized is measured in the export table.
    'Quantization parameters for tensor:"',
    # Lightning, every run: no accelerator to speak of (one that is there but unused still
    # gets Lightning's warning), the step count it estimates for a schedule, and the
    # checkpoint format it loads (always tunelab's own).
    "GPU available: False",
    "TPU available: False",
    "Loading `train_dataloader` to estimate number of stepping batches.",
    "`weights_only` was not set",
    # Weight averaging (callbacks=ema, swa): the test reading the best checkpoint's raw weights
    # beside its averaged ones, which it tests.
    "Found current_model_state in the checkpoint",
)
# The test reloading the best checkpoint (the results table says it is the best's): Lightning
# names the file twice. Restoring any other checkpoint (resume=) still shows.
# And Lightning's note that limit_*_batches=1.0 (conf/trainer's default) uses every batch.
NOISE_PATTERN = re.compile(
    r"(Restoring states from|Loaded model weights from) the checkpoint .*best\.ckpt$"
    # lr_find=true: the learning-rate finder putting the network back as it was
    r"|Restor(ing|ed all) states from the checkpoint (path )?at .*\.lr_find_[-\w]+\.ckpt$"
    r"|`Trainer\(limit_\w+_batches=1\.0\)` was configured so 100% of the batches"
)


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (message.startswith(NOISE_MESSAGES) or NOISE_PATTERN.match(message))


class _WarningsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def console_handlers() -> list[logging.Handler]:
    """The root logger's handlers that write to the console (Hydra's), not to a file."""
    return [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
    ]


def quiet_trial_console() -> None:
    """A sweep's trial: its console shows warnings and errors only (and the one line the job
    prints when it ends); its log file (TRIAL_DIR/train.log) keeps every record. Hydra makes
    new handlers for each job, so this lasts one trial."""
    for handler in console_handlers():
        handler.addFilter(_WarningsOnly())


def quiet_library_noise() -> None:
    """One line per message (Lightning prints through Hydra's handlers only), no adverts."""
    lightning = import_lightning()  # its import adds the console handler removed here

    for pattern in NOISE_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    logging.getLogger(lightning.__name__).handlers.clear()
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropNoise())
    # MLflow's store migrations; the ONNX exporter's pass-by-pass report (torch.onnx); ONNX
    # Runtime's quantizer announcing its shape inference for each int8 variant.
    for name in ("mlflow", "onnx_ir", "onnxscript", "onnxruntime.quantization.shape_inference"):
        logging.getLogger(name).setLevel(logging.WARNING)
