"""What export.py makes: the model as files that serve it, compressed variants of it, each checked
against the PyTorch network it came from and measured on the test split.

Every variant is an ONNX file run by ONNX Runtime except `pt2`, a PyTorch exported program:
  onnx          the float model
  pt2           the float model as torch.export's program (TorchScript where it cannot be)
  int8_dynamic  int8 weights, activations quantized at run time (ONNX Runtime)
  int8_static   int8 weights and activations, calibrated on training batches (ONNX Runtime)
  sparse        the weights of smallest magnitude, sparse.fraction of them, set to zero (global
                magnitude pruning in torch's words), then export.finetune_epochs
  slim          slim.fraction of each layer's channels (an MLP's hidden units) removed: a
                smaller network, then export.finetune_epochs
The job around it (tunelab.export.pipeline) selects the model and logs the run.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from tunelab.data.inputs import text_vocab_size
from tunelab.export import measure
from tunelab.export.finetune import finetune
from tunelab.export.formats import (
    file_format,
    file_metadata,
    load_program,
    onnx_session,
    run_onnx,
    write_onnx,
    write_program,
    write_tokenizer,
)
from tunelab.export.measure import test_examples
from tunelab.export.quantize import quantize_dynamic, quantize_static
from tunelab.export.sparsify import make_permanent, remove_channels, zero_smallest_weights
from tunelab.inference.checkpoint import TrainedModel, save_model
from tunelab.inference.predictor import Predictor
from tunelab.models import build_network


@dataclass
class Variant:
    """A shipped file, how it runs, and the PyTorch network it was made from."""

    name: str
    path: Path
    runtime: str  # onnxruntime | pytorch: what runs the file
    predict: measure.Predict
    source: (
        Predictor  # the PyTorch network it was made from (its non-zero weights, its eager speed)
    )
    exact: bool  # a float export: must match `source` within export.tolerance


def export(
    cfg: DictConfig, model: TrainedModel, datamodule: Any, folder: Path
) -> list[dict[str, Any]]:
    """Each variant of cfg.export.variants written to `folder`, checked and measured; a row each."""
    x, y = test_examples(datamodule)
    example = torch.from_numpy(x[:2])
    metadata = file_metadata(model)
    write_tokenizer(model.preprocess, folder)
    float_model = model.predictor
    wanted = list(cfg.export.variants)
    float_onnx = None  # the float ONNX file: a variant, and what int8 variants quantize
    if {"onnx", "int8_dynamic", "int8_static"} & set(wanted):
        float_onnx = write_onnx(float_model, example, folder / "model.onnx", metadata)
    variants = []
    if float_onnx and "onnx" in wanted:
        variants.append(onnx_variant("onnx", float_onnx, float_model, exact=True))
    if "pt2" in wanted:
        program = write_program(float_model, example, folder)
        loaded = load_program(program)
        variants.append(
            Variant("pt2", program, "pytorch", measure.torch_predict(loaded), float_model, True)
        )
    if float_onnx and "int8_dynamic" in wanted:
        path = quantize_dynamic(float_onnx, folder / "model.int8_dynamic.onnx", cfg.quantize)
        variants.append(onnx_variant("int8_dynamic", path, float_model, exact=False))
    if float_onnx and "int8_static" in wanted:
        batches = calibration_batches(datamodule, cfg.quantize.calibration_batches)
        path = quantize_static(float_onnx, folder / "model.int8_static.onnx", cfg.quantize, batches)
        variants.append(onnx_variant("int8_static", path, float_model, exact=False))
    if "sparse" in wanted:
        network = zero_smallest_weights(model.network, cfg.sparse.fraction)
        network = make_permanent(
            finetune(network, datamodule, model.config, cfg.export.finetune_epochs)
        )
        variants.append(
            smaller_variant("sparse", network, model, model.config["model"], folder, example)
        )
    if "slim" in wanted:
        network, cfg_model = remove_channels(
            model.network, model.config["model"], cfg.slim.fraction, network_builder(model)
        )
        network = finetune(network, datamodule, model.config, cfg.export.finetune_epochs)
        variants.append(smaller_variant("slim", network, model, cfg_model, folder, example))
    float_kib = measure.file_kib(float_onnx)[0] if float_onnx else math.nan  # sizes are x this
    scale = model.metadata["target_scale"]["std"] if model.task == "regression" else 1.0
    return [
        measure_variant(v, x, y, model.task, scale, cfg.export.tolerance, cfg.latency, float_kib)
        for v in variants
    ]


def calibration_batches(datamodule: Any, count: int) -> list[np.ndarray]:
    """The first `count` batches of the training split, as a shipped file takes them."""
    rows = datamodule.index["train"].cpu()
    size = datamodule.batch_size
    x = datamodule.data.x
    return [x[rows[i : i + size]].numpy() for i in range(0, min(len(rows), count * size), size)]


def network_builder(model: TrainedModel):
    """A model config -> a network sized for this model's data (its input shape, outputs)."""
    config = model.config

    def build(cfg_model: dict[str, Any]) -> nn.Module:
        return build_network(
            cfg_model,
            tuple(model.metadata["input_shape"]),
            len(model.output_names),
            dropout=config["regularization"]["dropout"],
            vocab_size=text_vocab_size(model.metadata.get("inputs")),
        ).eval()

    return build


def onnx_variant(name: str, path: Path, source: Predictor, exact: bool) -> Variant:
    session = onnx_session(path)
    return Variant(name, path, "onnxruntime", lambda x: run_onnx(session, x), source, exact)


def smaller_variant(
    name: str,
    network: nn.Module,
    model: TrainedModel,
    cfg_model: dict[str, Any],
    folder: Path,
    example: torch.Tensor,
) -> Variant:
    """A sparse or slim network as an ONNX file, and as a tunelab checkpoint that eval.py reads."""
    module = Predictor.from_metadata(network.eval(), model.metadata)
    path = write_onnx(module, example, folder / f"model.{name}.onnx", file_metadata(model))
    save_model(network, model, cfg_model, folder / f"model.{name}.ckpt")
    return onnx_variant(name, path, module, exact=True)


def measure_variant(
    variant: Variant,
    x: np.ndarray,
    y: torch.Tensor,
    task: str,
    scale: Any,
    tolerance: float,
    cfg_latency: DictConfig,
    float_kib: float,
) -> dict[str, Any]:
    """One row of the table: the file, its parameters, its test metrics, its latency. `scale`
    divides differences from the PyTorch model: 1 for probabilities, a regression's target
    standard deviations (so export.tolerance means the same for any units)."""
    predictions = measure.predictions(variant.predict, x)
    source = measure.torch_predict(variant.source)
    expected = measure.predictions(source, x)
    difference = float((np.abs(predictions - expected) / np.asarray(scale)).max())
    classes = task == "classification"
    agree = float((predictions.argmax(1) == expected.argmax(1)).mean()) if classes else math.nan
    if variant.exact and (difference > tolerance or (classes and agree < 1.0)):
        what = "probability" if classes else "prediction, in target standard deviations"
        raise RuntimeError(
            f"{variant.path.name} does not match its PyTorch model on the test split: max "
            f"|{what} difference| {difference:.2e} (export.tolerance={tolerance})"
            + (f", {agree:.2%} of predicted classes agree" if classes else "")
        )
    size, gzipped = measure.file_kib(variant.path)
    params, nonzero = measure.parameter_counts(variant.source.network)
    row: dict[str, Any] = {
        "variant": variant.name,
        "format": file_format(variant.path),
        "file": variant.path.name,
        "size_kib": size,
        "gzip_kib": gzipped,
        "size_ratio": size / float_kib,  # NaN without a float ONNX file
        "params": params,
        "nonzero": nonzero,
        **measure.test_metrics(predictions, y, task, std=scale if task == "regression" else None),
        "agree": agree,
        "max_diff": difference,
    }
    for batch_size in cfg_latency.batch_sizes:
        batch = measure.batch_of(x, batch_size)
        timed = {variant.runtime: variant.predict}
        if variant.runtime == "onnxruntime" and variant.exact:  # its float PyTorch twin
            timed["pytorch"] = source
        for runtime in ("onnxruntime", "pytorch"):
            row[f"b{batch_size}_ms_{runtime}"] = (
                measure.latency_ms(timed[runtime], batch, cfg_latency.calls, cfg_latency.warmup)
                if runtime in timed
                else float("nan")
            )
    return row
