"""`python export.py`: a trained model exported, compressed and measured (tunelab.export),
recorded as one MLflow run beside the run that trained it, or as a trial of an export sweep.

Everything a user can get wrong is checked before any file is made; the run is created only
once every variant is written, checked and measured, so a failure leaves no half-made run.
"""

import math
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from mlflow import MlflowClient
from omegaconf import DictConfig, OmegaConf

from tunelab.checkpoints import TrainedModel
from tunelab.console import console, print_run, quiet_library_noise
from tunelab.errors import ConfigError
from tunelab.eval_job import evaluation_run, selected_model
from tunelab.evaluate import test_data
from tunelab.tasks import EXPORT_TEST_METRICS, QUALITY_LABEL
from tunelab.tracking.params import flatten
from tunelab.tracking.plots import Point, tradeoff_plot
from tunelab.tracking.store import log_batch
from tunelab.tracking.sweep import trial_identity
from tunelab.tracking.trials import to_csv, to_markdown

TABLE = "variants"  # variants.csv / variants.md: the run's table


def export_model(cfg: DictConfig, output_dir: Path) -> float:
    """Export the model cfg names; log the variants as one run; the objective for sweepers."""
    client, model = selected_model(cfg, output_dir / "source")
    check_exportable(cfg, model)
    quiet_library_noise()
    datamodule, data_name = test_data(model, cfg.get("data"))

    from tunelab.export import export

    model_dir = output_dir / "model"
    rows = export(cfg, model, datamodule, model_dir)
    files = write_table(rows, model.task, output_dir)
    run_id = log_export(client, cfg, model, rows, files, model_dir, data_name)
    print_table(rows)
    print_run(run_id, client.get_run(run_id).info.experiment_id, cfg.tracking.uri)
    return objective(rows, cfg.objective.metric)


def check_exportable(cfg: DictConfig, model: TrainedModel) -> None:
    """What depends on the model: structured pruning of its class, quantization of its layers."""
    from tunelab.ship.prune import CNN, MLP, structured_unsupported
    from tunelab.ship.quantize import check_quantizable

    variants = list(cfg.export.variants)
    metric = str(cfg.objective.metric).partition("/")[2]
    others = [n for task, names in EXPORT_TEST_METRICS.items() if task != model.task for n in names]
    if metric in others and HydraConfig.get().mode == RunMode.MULTIRUN:
        mine = ", ".join(EXPORT_TEST_METRICS[model.task])
        raise ConfigError(
            f"objective.metric={cfg.objective.metric}: this {model.task} model's export logs "
            f"{mine} (and sizes): set objective.metric=VARIANT/one of them, and objective.mode"
        )
    if "channels" in variants and not isinstance(model.network, CNN | MLP):
        raise ConfigError(structured_unsupported(model.network))
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
    quality, label = EXPORT_TEST_METRICS[task][0], QUALITY_LABEL[task]
    points = [
        Point(r["variant"], r["size_kib"], r["nonzero"], r[quality], r["variant"]) for r in rows
    ]
    plot = tradeoff_plot(
        points, folder / "tradeoff.png", f"{label} against size, each variant", label
    )
    return [csv, markdown, plot]


def log_export(
    client: MlflowClient,
    cfg: DictConfig,
    model: TrainedModel,
    rows: list[dict[str, Any]],
    files: list[Path],
    model_dir: Path,
    data_name: str,
) -> str:
    """The export run: the knobs as params, VARIANT/METRIC metrics, the table, plot and files."""
    hydra_cfg = HydraConfig.get()
    tags = {"tunelab.task": "export", "data": data_name}
    sweep = None
    if hydra_cfg.mode == RunMode.MULTIRUN:
        parent, trial_tags, name = trial_identity(hydra_cfg)
        tags |= trial_tags
        sweep = (parent, name) if parent else None
    knobs = flatten(
        {g: OmegaConf.to_container(cfg[g]) for g in ("export", "prune", "quantize", "latency")}
    )
    metrics = {
        f"{row['variant']}/{key}": float(value)
        for row in rows
        for key, value in row.items()
        if isinstance(value, int | float)
    }
    metrics["objective"] = objective(rows, cfg.objective.metric)
    with evaluation_run(client, cfg, model, "export", tags, sweep) as run_id:
        finite = {k: v for k, v in metrics.items() if not math.isnan(v)}  # a variant not timed
        log_batch(client, run_id, metrics=finite, params=knobs)
        for file in files:
            client.log_artifact(run_id, str(file))
        client.log_artifacts(run_id, str(model_dir), "model")  # every file, pruned checkpoints too
    return run_id


def objective(rows: list[dict[str, Any]], metric: str) -> float:
    """VARIANT/NAME of the table (objective.metric); NaN when that variant was not made, or
    NAME is another task's metric (a single export: no sweep reads it)."""
    variant, _, name = metric.partition("/")
    return next((float(r.get(name, math.nan)) for r in rows if r["variant"] == variant), math.nan)


# The console's columns (all of them are in variants.csv): header -> row key; then each
# batch size's latency.
SHOWN = {
    "variant": "variant",
    "KiB": "size_kib",
    "x onnx": "size_ratio",
    "non-zero": "nonzero",
    "acc": "test_acc",
    "F1": "test_f1",
    "R²": "test_r2",
    "RMSE": "test_rmse",
    "MAE": "test_mae",
}


def print_table(rows: list[dict[str, Any]]) -> None:
    """The variants on the console: size, accuracy and latency at each batch size."""
    from rich.console import Console
    from rich.table import Table

    columns = {header: key for header, key in SHOWN.items() if key in rows[0]}  # the task's
    for key in rows[0]:
        if key.endswith("_ms_onnxruntime"):  # b{size}_ms_onnxruntime, then its PyTorch twin
            size = key.split("_")[0]
            columns |= {f"{size} ms ORT": key, f"{size} ms torch": f"{size}_ms_pytorch"}
    table = Table(title="exported variants: test split, CPU latency (median ms per call)")
    for header in columns:
        table.add_column(header, justify="left" if header == "variant" else "right")
    for row in rows:
        table.add_row(*(cell(row[key]) for key in columns.values()))
    # Never squeezed into the 80 columns rich assumes for a pipe or a log file.
    Console(width=max(console.width, 120)).print(table)


def cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)
