"""Where a run's resident memory goes: each step of the training process, and of the MLflow
writer, as the growth of the process's resident size (RSS) over the step before.

python -m benchmarks.memory [--size 60000] [--tiny]
Steps in the order a run takes them, one process for the training side and one for the
writer's, on a generated MNIST-format set of SIZE training images with the MLP. RSS, not
tracemalloc: torch allocates outside Python's allocator, where tracemalloc does not look.
"""

import argparse
import json
import subprocess

from benchmarks.common import PYTHON, ROOT, report, scratch

# Each step is the code after the previous steps; its figure is the RSS growth it causes.
TRAINING_STEPS = {
    "interpreter": "",
    "import torch": "import torch",
    "import lightning (torchmetrics, torchvision, matplotlib, scipy)": "import lightning",
    "import the task (sklearn, pandas: the stratified split)": "import tunelab.training.pipeline",
    "read the examples (float32, one copy)": (
        "from tunelab.data.torchvision_sets import load_mnist\ndata = load_mnist(DATA)"
    ),
    "split and standardise (DataModule)": (
        "from tunelab.data.datamodule import DataModule\n"
        "dm = DataModule(data, {'val': 0.1, 'test': None, 'seed': 42}, 64)\n"
        "from tunelab.cli.runtime import trim_heap\ntrim_heap()"
    ),
    "fit 1 epoch (network, optimizer state, batches, metric buffers, Lightning)": (
        "import lightning as L\n"
        "from tunelab.training.classifier import Classifier\n"
        "from tunelab.models.mlp import MLP\n"
        "from tunelab.training.optim import build_optimizer\n"
        "from omegaconf import OmegaConf\n"
        "opt = build_optimizer(OmegaConf.create({'_target_': 'torch.optim.Adam', "
        "'_partial_': True, 'lr': 1e-3}), False)\n"
        "model = Classifier(MLP(dm.input_shape, dm.num_outputs), dm.num_outputs, optimizer=opt)\n"
        "trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, "
        "enable_progress_bar=False, enable_model_summary=False, accelerator='cpu')\n"
        "trainer.fit(model, datamodule=dm)"
    ),
    "test": "trainer.test(model, datamodule=dm, verbose=False)",
}

WRITER_STEPS = {
    "interpreter": "",
    "import mlflow (pandas, pyarrow, sqlalchemy, opentelemetry, ...)": "import mlflow",
    "open the SQLite store (SQLAlchemy store, alembic)": (
        "client = mlflow.MlflowClient(URI)\nclient.search_experiments()"
    ),
    "Pillow (the confusion matrix)": "import tunelab.tracking.confusion",
    "the model-logging stack (pyfunc, signatures)": (
        "from tunelab.tracking.registry import prepare_model_logging\nprepare_model_logging()"
    ),
}

PROBE = """
import json, psutil
DATA, URI = {data!r}, {uri!r}
def rss():
    print(json.dumps(psutil.Process().memory_info().rss / 2**20), flush=True)
"""


def start(steps: dict[str, str], data: str, uri: str) -> subprocess.Popen:
    """A fresh interpreter running the steps in order, printing its RSS after each."""
    code = PROBE.format(data=data, uri=uri) + "".join(f"{c}\nrss()\n" for c in steps.values())
    return subprocess.Popen(
        [PYTHON, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def account(steps: dict[str, str], process: str, running: subprocess.Popen) -> list[dict]:
    """Each step's RSS growth, read from the interpreter `start` ran them in."""
    out, err = running.communicate()
    if running.returncode:
        raise RuntimeError(err[-3000:])
    sizes = [float(line) for line in out.strip().splitlines()[-len(steps) :]]
    return [
        {"process": process, "step": name, "MiB": after - before, "RSS MiB": after}
        for name, before, after in zip(steps, [0.0, *sizes], sizes, strict=False)
    ]


def main(size: int) -> None:
    from benchmarks.overhead import generated_mnist

    root = scratch()
    generated_mnist(root / "data", size)
    uri = f"sqlite:///{root}/mlflow.db"
    # Side by side, as a run has them (each process's own growth is what is measured).
    training = start(TRAINING_STEPS, str(root / "data"), uri)
    writer = start(WRITER_STEPS, str(root / "data"), uri)
    rows = account(TRAINING_STEPS, "training", training)
    rows += account(WRITER_STEPS, "MLflow writer", writer)
    report(
        "memory",
        f"where the resident memory goes, {size} generated 28x28 images, MLP",
        rows,
        [
            "MiB: the RSS growth over the step before; RSS MiB: the process's size after it",
            json.dumps({"examples": size + size // 6, "bytes each (float32)": 28 * 28 * 4}),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=60000)
    parser.add_argument("--tiny", action="store_true", help="600 images")
    options = parser.parse_args()
    main(600 if options.tiny else options.size)
