"""int8 quantization of an ONNX file with ONNX Runtime's quantization tool.

PyTorch's own post-training quantization (torch.ao.quantization, eager and FX) is deprecated in
favour of torchao, whose int8 paths target GPUs and torch.compile; for a file served on CPUs,
ONNX Runtime's quantize_dynamic and quantize_static are the maintained path. Dynamic
quantization stores int8 weights and quantizes activations on the fly; static quantization
also fixes the activations' ranges from calibration batches (QDQ format, which ONNX Runtime's
CPU kernels are optimised for).
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tunelab.errors import ConfigError
from tunelab.export.formats import INPUT

MODES = ("dynamic", "static")


def quantizable_op_types(mode: str) -> list[str]:
    """The ONNX operator types ONNX Runtime's quantization quantizes in this mode."""
    from onnxruntime.quantization import registry

    if mode == "dynamic":  # quantize_dynamic also rewrites Gemm as MatMul, then quantizes it
        return sorted({*registry.IntegerOpsRegistry, "Gemm"})
    return sorted(registry.QDQRegistry)


def op_types_error(op_types: list[str] | None, modes: list[str]) -> str | None:
    """quantize.op_types naming a type a chosen mode cannot quantize: what to change."""
    for mode in modes:
        supported = quantizable_op_types(mode)
        if unknown := [t for t in op_types or [] if t not in supported]:
            return (
                f"quantize.op_types: ONNX Runtime's {mode} quantization cannot quantize "
                f"{', '.join(unknown)}; it quantizes {', '.join(supported)} (null: all of them)"
            )
    return None


@contextmanager
def prepared(source: Path) -> Iterator[str]:
    """A scratch copy of the ONNX file with shapes inferred and graph optimisations applied, as
    ONNX Runtime's quantization expects its input (quant_pre_process)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as scratch:
        path = str(Path(scratch) / source.name)
        quant_pre_process(str(source), path)
        yield path


def quantize_dynamic(source: Path, path: Path, cfg: Any) -> Path:
    """int8 weights; activations quantized per batch at run time (no calibration)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with prepared(source) as model:
        quantize_dynamic(
            model,
            str(path),
            op_types_to_quantize=list(cfg.op_types) if cfg.op_types else None,
            per_channel=cfg.per_channel,
            reduce_range=cfg.reduce_range,
            weight_type=QuantType.QInt8,
        )
    return path


def quantize_static(source: Path, path: Path, cfg: Any, calibration: list[np.ndarray]) -> Path:
    """int8 weights and activations, activation ranges calibrated on `calibration` batches."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches: Iterator[np.ndarray] = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {INPUT: batch}

    with prepared(source) as model:
        quantize_static(
            model,
            str(path),
            Batches(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(cfg.op_types) if cfg.op_types else None,
            per_channel=cfg.per_channel,
            reduce_range=cfg.reduce_range,
            activation_type=QuantType.QUInt8,  # with int8 weights: ONNX Runtime's advice for x86
            weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, cfg.calibration_method),
        )
    return path


def check_quantizable(cfg: Any, modes: list[str]) -> None:
    """conf quantize's settings ONNX Runtime cannot follow, as one line (before any work)."""
    from onnxruntime.quantization import CalibrationMethod

    if problem := op_types_error(cfg.op_types, modes):
        raise ConfigError(problem)
    methods = [m.name for m in CalibrationMethod]
    if "static" in modes and cfg.calibration_method not in methods:
        raise ConfigError(
            f"quantize.calibration_method={cfg.calibration_method}: choose {', '.join(methods)}"
        )
