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
from omegaconf import DictConfig

from tunelab.export import measure
from tunelab.sweeps.objectives import COSTS


def measure_cost(
    checkpoint: str, datamodule: Any, cfg_cost: DictConfig, folder: Path
) -> dict[str, float]:
    """The cost/* metrics of the model in `checkpoint`, timed by cfg_cost.runtime: trainable parameters,
    the float model's size (its ONNX file, or its state dict as torch.save writes it) and the
    median latency of one example, on this CPU."""
    from tunelab.inference.checkpoint import load_model

    model = load_model(checkpoint)
    x, _ = measure.test_examples(datamodule)
    params = sum(p.numel() for p in model.network.parameters() if p.requires_grad)
    predict: measure.Predict
    if cfg_cost.runtime == "onnxruntime":
        from tunelab.export.formats import file_metadata, onnx_session, run_onnx, write_onnx

        example = torch.from_numpy(x[:2])
        path = write_onnx(model.predictor, example, folder / "model.onnx", file_metadata(model))
        session = onnx_session(path, threads=1)
        size, predict = path.stat().st_size, partial(run_onnx, session)
    else:
        buffer = io.BytesIO()
        torch.save(model.network.state_dict(), buffer)
        size, predict = buffer.tell(), measure.torch_predict(model.predictor)
    # One thread: what a CPU service gives one request, and steady while the MLflow writer
    # works beside the trial (two busy threads on two cores made eager calls 50x slower).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        batch = measure.batch_of(x, 1)
        latency = measure.latency_ms(predict, batch, cfg_cost.calls, cfg_cost.warmup)
    finally:
        torch.set_num_threads(before)
    return dict(zip(COSTS, (float(params), float(size), latency), strict=True))
