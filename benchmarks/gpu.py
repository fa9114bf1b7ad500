"""tunelab against a plain PyTorch loop on an NVIDIA GPU: eager float32, bf16-mixed, and
torch.compile with bf16-mixed, the data held in memory on the device on both sides.

python -m benchmarks.gpu [--size 60000] [--epochs 3] [--model cnn|mlp] [--repeats 3]
python -m benchmarks.gpu --check    # the same table on the CPU, 600 images: the script runs

Each row: `python train.py data=mnist trainer=gpu trainer.precision=P compile=C` against
benchmarks/plain_loop.py with the same network, split, optimizer, batch and precision
(`--device cuda --precision P [--compile]`), medians of alternating runs after one uncounted
tunelab run. The compiled rows' loops include the compilation on both sides (from a warm
compiler cache). Writes benchmarks/gpu.json (gpu_check.json
with --check).
"""

import argparse
import sys

from benchmarks.common import report, scratch
from benchmarks.overhead import generated_mnist, measure

# name: (trainer.precision, compile)
VARIANTS = {
    "eager, float32": ("32-true", False),
    "eager, bf16-mixed": ("bf16-mixed", False),
    "compiled, bf16-mixed": ("bf16-mixed", True),
}


def device_name(check: bool) -> str:
    """The CUDA device's name; without one, a line saying where to run this (unless --check)."""
    import torch

    if check:
        return "CPU (--check: not a measurement)"
    if not torch.cuda.is_available():
        sys.exit("benchmarks.gpu: no CUDA device here; run it on a machine with an NVIDIA GPU")
    return torch.cuda.get_device_name()


def main(size: int, epochs: int, model: str, repeats: int, check: bool) -> None:
    device = device_name(check)
    root = scratch()
    generated_mnist(root / "data", size)
    data_args = ["data=mnist", f"paths.data_dir={root / 'data'}"]
    rows = []
    for name, (precision, compiled) in VARIANTS.items():
        trainer = "trainer=cpu" if check else "trainer=gpu"
        extra = [trainer, f"trainer.precision={precision}", f"compile={str(compiled).lower()}"]
        options = ("--device", "cpu" if check else "cuda", "--precision", precision)
        row = measure(
            f"generated {size} 28x28",
            root,
            str(root / "data"),
            data_args,
            epochs,
            128,
            model,
            extra,
            # one uncounted run first: the store's creation, and the compiler's cache filled
            # (a cold cache cost the first compiled run 40 s on a CPU)
            warm=True,
            repeats=repeats,
            plain_options=(*options, *(("--compile",) if compiled else ())),
        )
        del row["bare lightning loop s"]  # measured on the CPU only (benchmarks.overhead)
        rows.append({"variant": name, "device": device, **row})
    report(
        "gpu_check" if check else "gpu",
        f"tunelab against a plain loop on {device}",
        rows,
        [
            "loop: the epochs (training and validation), compilation included; wall: the "
            f"whole process; medians of {repeats} alternating runs; peak: resident memory of "
            "the process tree (host memory, not the GPU's)"
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="600 images on the CPU, 1 epoch")
    options = parser.parse_args()
    if options.check:
        main(600, 1, options.model, 1, check=True)
    else:
        main(options.size, options.epochs, options.model, options.repeats, check=False)
