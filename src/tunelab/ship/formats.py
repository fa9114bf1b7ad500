"""A trained classifier as files that serve it: ONNX (run by ONNX Runtime) and a PyTorch
exported program (torch.export, .pt2), each with everything inference needs inside.

The shipped graph takes examples as tunelab's data source returns them (images as float32 in
[0, 1], [N, C, H, W]; a table one-hot encoded, tunelab.inputs) with any batch size, and returns
class probabilities: the training split's standardisation and the softmax are part of it, so a
user feeds inputs and reads probabilities with no tunelab code.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

INPUT, OUTPUT = "input", "probabilities"


class Shipped(nn.Module):
    """standardise -> network -> softmax: what every exported file computes."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, network: nn.Module, normalize: dict[str, list] | None) -> None:
        super().__init__()
        self.network = network
        stats = normalize or {"mean": [0.0], "std": [1.0]}
        self.register_buffer("mean", torch.tensor(stats["mean"], dtype=torch.float32))
        self.register_buffer("std", torch.tensor(stats["std"], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network((x - self.mean) / self.std).softmax(dim=-1)


def shipped(network: nn.Module, recipe: dict[str, Any]) -> Shipped:
    """The network of a checkpoint (its recipe: tunelab.checkpoints) ready to export, in eval mode."""
    return Shipped(network, recipe["normalize"]).eval()


def batch_axis() -> dict[str, Any]:
    """The first axis of the input (named x in Shipped.forward) is the batch, of any size."""
    return {"x": {0: torch.export.Dim("batch", min=1)}}


def write_onnx(
    module: Shipped, example: torch.Tensor, path: Path, metadata: dict[str, Any]
) -> Path:
    """The module as one ONNX file with a dynamic batch axis (torch.onnx's dynamo exporter),
    tunelab's facts in its metadata (classes, input shape and meaning)."""
    import onnx

    program = torch.onnx.export(
        module,
        (example,),
        dynamic_shapes=batch_axis(),
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamo=True,
        verbose=False,
    )
    assert program is not None  # dynamo=True returns the ONNXProgram
    model = program.model_proto
    strip_node_metadata(model)
    model.metadata_props.extend(
        onnx.StringStringEntryProto(key=k, value=json.dumps(v)) for k, v in metadata.items()
    )
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))  # weights inside: one file to ship
    return path


def strip_node_metadata(model: Any) -> None:
    """The exporter annotates every node and value with its PyTorch origin (stack traces, node
    names): useful when debugging the exporter, a third of a small model's file otherwise."""
    graph = model.graph
    for item in [*graph.node, *graph.value_info, *graph.input, *graph.output, *graph.initializer]:
        del item.metadata_props[:]
    del model.metadata_props[:]


def onnx_session(path: Path, threads: int = 0) -> Any:
    """An ONNX Runtime CPU session (threads=0: ONNX Runtime's default, one per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_metadata(session: Any) -> dict[str, Any]:
    """tunelab's facts written into the file (write_onnx), decoded."""
    return {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}


def write_program(module: Shipped, example: torch.Tensor, path: Path) -> Path:
    """The module as a PyTorch exported program (torch.export.save, .pt2), batch axis dynamic."""
    program = torch.export.export(module, (example,), dynamic_shapes=batch_axis())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(path))
    return path


def load_program(path: Path) -> nn.Module:
    """A .pt2 file written by write_program, as a module that takes a batch of inputs."""
    return torch.export.load(str(path)).module()


def run_onnx(session: Any, x: np.ndarray) -> np.ndarray:
    return session.run(None, {INPUT: x})[0]
