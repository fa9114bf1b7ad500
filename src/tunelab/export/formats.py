"""A trained model as files that serve it: ONNX (run by ONNX Runtime) and a PyTorch
exported program (torch.export, .pt2), each with everything inference needs inside.

The shipped graph takes examples as tunelab's data source returns them (images as float32 in
[0, 1], [N, C, H, W]; a table one-hot encoded, tunelab.data.inputs) with any batch size, and returns
class probabilities, or a regression's values in the targets' units: the training split's
standardisation and the output layer (softmax, or un-standardisation) are
part of it (tunelab.inference.predictor.Predictor), so a user feeds inputs and reads
predictions with no tunelab code.
"""

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from tunelab.errors import UserError
from tunelab.inference.predictor import Predictor

if TYPE_CHECKING:
    from tunelab.inference.checkpoint import TrainedModel

INPUT = "input"

log = logging.getLogger(__name__)


def batch_axis() -> dict[str, Any]:
    """The first axis of the input (named x in Predictor.forward) is the batch, of any size."""
    return {"x": {0: torch.export.Dim("batch", min=1)}}


def write_onnx(
    module: Predictor, example: torch.Tensor, path: Path, metadata: dict[str, Any]
) -> Path:
    """The module as one ONNX file with a dynamic batch axis (torch.onnx's dynamo exporter),
    tunelab's facts in its metadata (classes, input shape and meaning)."""
    import onnx
    from torch.onnx import errors

    try:
        program = torch.onnx.export(
            module,
            (example,),
            dynamic_shapes=batch_axis(),
            input_names=[INPUT],
            output_names=[module.output_name],
            dynamo=True,
            verbose=False,
        )
    except errors.OnnxExporterError as error:  # the network, not the user's settings
        reason = first_line(error.__cause__ or error)  # torch.export's reason
        raise UserError(
            f"the network cannot be exported to ONNX ({reason}): export.variants=[pt2] saves "
            "it as TorchScript"
        ) from None
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


def first_line(error: BaseException) -> str:
    """An exporter error's first line, without terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(error).strip().splitlines()[0])


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


def write_program(module: Predictor, example: torch.Tensor, folder: Path) -> Path:
    """The module as a PyTorch exported program (torch.export, `model.pt2`), batch axis
    dynamic; where torch.export cannot capture it (control flow that depends on the data, say),
    as TorchScript traced on the example (`model.torchscript.pt`), with a warning. (PyTorch 2.14
    deprecates TorchScript as well, and warns; it is the one format left for such a network.)"""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        program = torch.export.export(module, (example,), dynamic_shapes=batch_axis())
    except Exception as error:  # torch.export raises several kinds; each means "not capturable"
        log.warning("torch.export cannot capture the network (%s): TorchScript", first_line(error))
        path = folder / "model.torchscript.pt"
        torch.jit.save(torch.jit.trace(module, example), str(path))
        return path
    path = folder / "model.pt2"
    torch.export.save(program, str(path))
    return path


def load_program(path: Path) -> nn.Module:
    """A file written by write_program, as a module that takes a batch of inputs."""
    if path.suffix == ".pt2":
        return torch.export.load(str(path)).module()
    return torch.jit.load(str(path))


def file_format(path: Path) -> str:
    """What a shipped file is, by its name."""
    if path.suffix == ".onnx":
        return "onnx"
    return "exported program" if path.suffix == ".pt2" else "torchscript"


def run_onnx(session: Any, x: np.ndarray) -> np.ndarray:
    return session.run(None, {INPUT: x})[0]


def input_meaning(preprocess: Any) -> str:
    """What a shipped file takes, in words (its metadata)."""
    if preprocess.is_image:
        return "images, float32 in [0, 1], [batch, channels, height, width]"
    if preprocess.is_text:
        return (
            f"token ids, int64 [batch, {preprocess.input_shape[0]}] (0 pads, 1 is unknown): "
            f"texts encoded by {TOKENIZER_FILE} beside this file"
        )
    return f"a table, float32 [batch, columns]; columns: {list(preprocess.raw['columns'])}"


# A text model's fitted tokenizer, shipped beside its files: tunelab.data.tokenizers' state
# (kind, vocabulary in id order, max_length, lowercase; a subword tokenizer's model too).
TOKENIZER_FILE = "tokenizer.json"


def write_tokenizer(preprocess: Any, folder: Path) -> Path | None:
    """The tokenizer a text model's files need, as TOKENIZER_FILE in `folder`; None otherwise."""
    if not preprocess.is_text:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TOKENIZER_FILE
    path.write_text(json.dumps(preprocess.raw["tokenizer"], ensure_ascii=False))
    return path


def file_metadata(model: "TrainedModel") -> dict[str, Any]:
    """What a user of the file needs to know, stored in it (readable with ONNX Runtime)."""
    regression = model.task == "regression"
    return {
        "task": model.task,
        ("targets" if regression else "classes"): model.output_names,
        "input_shape": list(model.preprocess.input_shape),
        "input": input_meaning(model.preprocess),
        "output": (
            "predicted values in the targets' units [batch, targets]"
            if regression
            else "class probabilities [batch, classes]"
        ),
        "source_run": model.metadata.get("run_id"),
    }
