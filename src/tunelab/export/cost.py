"""What a trained model costs to ship, measured on its best checkpoint after the test and logged
as cost/* metrics: what a search trades against accuracy (objective.more) and what its
constraints bound (hydra.sweeper.constraints).

The code that measures export.py's table measures these (tunelab.export.measure): the model
read back from its checkpoint, as the shipped file takes inputs (tunelab.inference.Predictor),
so cost/latency_ms is the table's b1_ms_pytorch column of the float model, or b1_ms_onnxruntime
with cost.runtime=onnxruntime. That one is not the default: torch.onnx's exporter takes about
1.5 s for a small network here, more than the second a trial may spend on its costs.
"""

import io
from functools import partial
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from tunelab import CONF
from tunelab.export import measure


def measure_cost(
    checkpoint: str, datamodule: Any, cfg_cost: DictConfig, folder: Path
) -> dict[str, float]:
    """The cost/* metrics of the model in `checkpoint`, timed by cfg_cost.runtime: trainable
    parameters, the float model's size (its ONNX file, or its state dict as torch.save writes
    it) and the median latency of one example, on this CPU; with cost.int8, the same of its
    int8 ONNX file (export.py's int8_dynamic variant)."""
    from tunelab.inference.checkpoint import load_model

    model = load_model(checkpoint)
    x, _ = measure.test_examples(datamodule)
    batch = measure.batch_of(x, 1)
    costs = {
        "cost/params": float(sum(p.numel() for p in model.network.parameters() if p.requires_grad))
    }
    if cfg_cost.runtime == "onnxruntime":
        from tunelab.export.formats import file_metadata, write_onnx

        example = torch.from_numpy(x[:2])
        path = write_onnx(model.predictor, example, folder / "model.onnx", file_metadata(model))
        costs |= onnx_costs(path, batch, cfg_cost, "")
        if cfg_cost.int8:
            from tunelab.export.quantize import quantize_dynamic

            # export.yaml's quantize settings: the int8_dynamic file export.py makes
            quantize = OmegaConf.load(CONF / "export.yaml").quantize
            int8 = quantize_dynamic(path, folder / "model.int8_dynamic.onnx", quantize)
            costs |= onnx_costs(int8, batch, cfg_cost, "int8_")
    else:
        buffer = io.BytesIO()
        torch.save(model.network.state_dict(), buffer)
        costs["cost/size_bytes"] = float(buffer.tell())
        predict = measure.torch_predict(model.predictor)
        costs["cost/latency_ms"] = one_thread_latency(predict, batch, cfg_cost)
    return costs


def onnx_costs(path: Path, batch: Any, cfg_cost: DictConfig, prefix: str) -> dict[str, float]:
    """An ONNX file's size and latency, through ONNX Runtime on one thread."""
    from tunelab.export.formats import onnx_session, run_onnx

    session = onnx_session(path, threads=1)
    latency = one_thread_latency(partial(run_onnx, session), batch, cfg_cost)
    return {
        f"cost/{prefix}size_bytes": float(path.stat().st_size),
        f"cost/{prefix}latency_ms": latency,
    }


def one_thread_latency(predict: measure.Predict, batch: Any, cfg_cost: DictConfig) -> float:
    """The median latency of `predict` on `batch`, in ms, with torch on one thread: what a CPU
    service gives one request, and steady while the MLflow writer works beside the trial (two
    busy threads on two cores made eager calls 50x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return measure.latency_ms(predict, batch, cfg_cost.calls, cfg_cost.warmup)
    finally:
        torch.set_num_threads(before)
