"""`python export.py`: a trained model exported, compressed and measured (tunelab.export.variants),
recorded as one MLflow run beside the run that trained it, or as a trial of an export sweep.

Everything a user can get wrong is checked before any file is made; the run is created only
once every variant is written, checked and measured, so a failure leaves no half-made run. The
job wrapper (tunelab.jobs.wrapper) checks the config first and ends the run.
"""

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from tunelab.cli.console import console, quiet_library_noise
from tunelab.errors import ConfigError
from tunelab.evaluation.evaluate import test_data
from tunelab.inference.checkpoint import TrainedModel
from tunelab.sweeps.trials import to_csv, to_markdown
from tunelab.tasks import EXPORT_TEST_METRICS, TASKS
from tunelab.tracking.params import flatten
from tunelab.tracking.plots import Point, tradeoff_plot

if TYPE_CHECKING:  # the handle the job wrapper passes; the wrapper imports this module
    from tunelab.jobs.wrapper import Job

TABLE = "variants"  # variants.csv / variants.md: the run's table


def export_model(cfg: DictConfig, job: "Job") -> float:
    """Export the model cfg names; log the variants as one run; the objective for sweepers."""
    output_dir = Path(job.output_dir)
    model = job.selected_model(output_dir / "source")
    check_exportable(cfg, model, job.in_sweep)
    quiet_library_noise()
    datamodule, data_name = test_data(model, cfg.get("data"))

    from tunelab.export.variants import export

    model_dir = output_dir / "model"
    rows = export(cfg, model, datamodule, model_dir)
    files = write_table(rows, model.task, output_dir)
    log_export(job, cfg, model, rows, files, model_dir, data_name)
    if not job.in_sweep:  # a sweep's trial prints one line when it ends
        print_table(rows, model.task)
        shipped = ", ".join(sorted(p.name for p in model_dir.iterdir()))
        print(f"exported files: {model_dir}/ ({shipped})")
    job.objective_name = str(cfg.objective.metric)
    return objective(rows, cfg.objective.metric)


def check_exportable(cfg: DictConfig, model: TrainedModel, in_sweep: bool) -> None:
    """What depends on the model: slimming its class, quantizing its layers."""
    from tunelab.export.quantize import check_quantizable
    from tunelab.export.sparsify import CNN, MLP, slim_unsupported

    variants = list(cfg.export.variants)
    metric = str(cfg.objective.metric).partition("/")[2]
    others = [n for task, names in EXPORT_TEST_METRICS.items() if task != model.task for n in names]
    if metric in others and in_sweep:
        mine = ", ".join(EXPORT_TEST_METRICS[model.task])
        raise ConfigError(
            f"objective.metric={cfg.objective.metric}: this {model.task} model's export logs "
            f"{mine} (and sizes): set objective.metric=VARIANT/one of them, and objective.mode"
        )
    if "slim" in variants and not isinstance(model.network, CNN | MLP):
        raise ConfigError(slim_unsupported(model.network))
    modes = [v.removeprefix("int8_") for v in variants if v.startswith("int8_")]
    if modes:
        check_quantizable(cfg.quantize, modes)


def write_table(rows: list[dict[str, Any]], task: str, folder: Path) -> list[Path]:
    """variants.csv, variants.md and tradeoff.png (test accuracy, or a regression's R²,
    against file size)."""
    folder.mkdir(parents=True, exist_ok=True)
    csv, markdown = folder / f"{TABLE}.csv", folder / f"{TABLE}.md"
    csv.write_text(to_csv(rows))
    markdown.write_text(to_markdown(rows, ".4g"))
    quality, label = f"test_{TASKS[task].quality}", TASKS[task].quality_label
    points = [
        Point(r["variant"], r["size_kib"], r["nonzero"], r[quality], r["variant"]) for r in rows
    ]
    plot = tradeoff_plot(
        points, folder / "tradeoff.png", f"{label} against size, each variant", label
    )
    return [csv, markdown, plot]


def log_export(
    job: "Job",
    cfg: DictConfig,
    model: TrainedModel,
    rows: list[dict[str, Any]],
    files: list[Path],
    model_dir: Path,
    data_name: str,
) -> None:
    """The export run: the knobs as params, VARIANT/METRIC metrics, the table, plot and files."""
    knobs = flatten(
        {
            g: OmegaConf.to_container(cfg[g])
            for g in ("export", "sparse", "slim", "quantize", "latency")
        }
    )
    metrics = {
        f"{row['variant']}/{key}": float(value)
        for row in rows
        for key, value in row.items()
        if isinstance(value, int | float)
    }
    metrics["objective"] = objective(rows, cfg.objective.metric)
    params = {key: str(value) for key, value in knobs.items()}
    run = job.open_run_beside(model, "export", {"data": data_name}, params)
    run.log_metrics({k: v for k, v in metrics.items() if not math.isnan(v)})  # a variant not timed
    for file in files:
        run.log_artifact(file)
    run.log_artifacts(model_dir, "model")  # every file, the sparse and slim checkpoints too


def objective(rows: list[dict[str, Any]], metric: str) -> float:
    """VARIANT/NAME of the table (objective.metric); NaN when that variant was not made, or
    NAME is another task's metric (a single export: no sweep reads it)."""
    variant, _, name = metric.partition("/")
    return next((float(r.get(name, math.nan)) for r in rows if r["variant"] == variant), math.nan)


# The console's columns (all of them are in variants.csv): header -> row key; then the task's
# test metrics and each batch size's latency.
SHOWN = {"variant": "variant", "KiB": "size_kib", "x onnx": "size_ratio", "non-zero": "nonzero"}


def print_table(rows: list[dict[str, Any]], task: str) -> None:
    """The variants on the console: size, the test metrics and latency at each batch size."""
    from rich.console import Console
    from rich.table import Table

    columns = SHOWN | {name: f"test_{name}" for name in TASKS[task].metrics}
    columns = {header: key for header, key in columns.items() if key in rows[0]}
    for key in rows[0]:
        if key.endswith("_ms_onnxruntime"):  # b{size}_ms_onnxruntime, then its PyTorch twin
            size = key.split("_")[0]
            columns |= {f"{size} ms ORT": key, f"{size} ms torch": f"{size}_ms_pytorch"}
    table = Table(title="exported variants: test split, CPU latency (median ms per call)")
    for header in columns:
        variant = header == "variant"
        table.add_column(header, justify="left" if variant else "right", no_wrap=variant)
    for row in rows:
        table.add_row(*(cell(row[key]) for key in columns.values()))
    # Never squeezed into the 80 columns rich assumes for a pipe or a log file.
    Console(width=max(console.width, 120)).print(table)


def cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)
