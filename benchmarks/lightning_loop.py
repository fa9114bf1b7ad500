"""Lightning's own share: the plain loop's work in a bare LightningModule (no metrics, logger,
checkpoints or progress bar), so the overhead table separates Lightning from tunelab.

python benchmarks/lightning_loop.py --data digits|DIR --epochs 2 --batch-size 64 [--model cnn|mlp]
Prints one JSON line: {"loop_s": ...}.
"""

import json
import sys
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from plain_loop import NETWORKS, command_line, normalized_splits  # noqa: E402  (the same data)

from tunelab.data.batches import TensorBatches  # noqa: E402


class Bare(L.LightningModule):
    def __init__(self, input_shape: tuple[int, ...], model: str) -> None:
        super().__init__()
        self.network = NETWORKS[model](input_shape, 10)

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self.network(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        return (self.network(batch[0]).argmax(1) == batch[1]).sum().item()

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)

    def on_train_start(self) -> None:
        self.started = time.perf_counter()

    def on_train_end(self) -> None:
        self.loop_s = time.perf_counter() - self.started


def main(data: str, epochs: int, batch_size: int, model: str = "cnn") -> None:
    torch.manual_seed(42)
    input_shape, splits = normalized_splits(data)
    module = Bare(input_shape, model)
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(
        module,
        TensorBatches(*splits["train"], batch_size, shuffle=True),
        TensorBatches(*splits["val"], batch_size),
    )
    print(json.dumps({"loop_s": module.loop_s}))


if __name__ == "__main__":
    main(**command_line(__doc__, devices=False))
