"""Every bad input a user can cause, run through `python train.py`: the line it ends with, the
seconds to that line, and whether it left a run in the store.

    python benchmarks/bad_inputs.py            # the table of the closing note (bad_inputs.json)

The cases are shared with tests/test_bad_inputs.py, which asserts the messages.
"""

import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import PYTHON, ROOT, report, scratch

LATIN1 = "size,species\n1.0,caf\xe9\n2.0,th\xe9\n".encode("latin-1")


def _csv(text: str | bytes) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        file = root / "table.csv"
        file.write_bytes(text if isinstance(text, bytes) else text.encode())
        return ["data=csv", f"data.source.path={file}", "data.source.target=species"]

    return setup


def _images(suffix: str, content: bytes) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        for name in ("cat", "dog"):
            folder = root / "images" / name
            folder.mkdir(parents=True)
            for i in range(3):
                (folder / f"{i}{suffix}").write_bytes(content)
        return ["data=image_folder", f"data.source.root={root / 'images'}"]

    return setup


def _args(*args: str) -> Callable[[Path], list[str]]:
    return lambda root: list(args)


def _folder_as_csv(root: Path) -> list[str]:
    (root / "adir").mkdir()
    return ["data=csv", f"data.source.path={root / 'adir'}", "data.source.target=species"]


# name -> what it sets up under a scratch folder and the overrides it runs with
CASES: dict[str, Callable[[Path], list[str]]] = {
    "lr not a number": _args("optimizer.lr=abc"),
    "batch size not an integer": _args("data.batch_size=1.5"),
    "max_epochs=0": _args("trainer.max_epochs=0"),
    "data=csv, keys unset": _args("data=csv"),
    "data=image_folder, root unset": _args("data=image_folder"),
    "CSV file missing": _args("data=csv", "data.source.path=nope.csv", "data.source.target=y"),
    "CSV path is a folder": _folder_as_csv,
    "CSV empty": _csv(""),
    "CSV header only": _csv("size,species\n"),
    "CSV not UTF-8": _csv(LATIN1),
    "CSV target column missing": _csv("size,kind\n1.0,a\n2.0,b\n"),
    "CSV NaN in target": _csv("size,species\n1.0,a\n2.0,\n3.0,b\n4.0,a\n"),
    "CSV text in a feature": _csv("size,species\nbig,a\n2.0,b\n"),
    "images are .bmp": _images(".bmp", b"BM" + bytes(60)),
    "image file corrupt": _images(".png", b"not a png"),
}

BASE = ["trainer.max_epochs=1", "print_config=false", "callbacks.progress_bar=null"]


def try_case(name: str, root: Path) -> dict:
    """Run one case under `root`: its last line, seconds, exit code and the runs it left."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    args = CASES[name](root)
    wall, out, err, code = run_capturing([*BASE, *args], root)
    last = (err.strip() or out.strip()).splitlines()[-1] if (err.strip() or out.strip()) else ""
    store = root / "mlflow.db"
    runs = []
    if store.exists():
        client = MlflowClient(f"sqlite:///{store}")
        for experiment in client.search_experiments():
            runs += client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)
    left = ", ".join(f"{r.info.status}/{r.info.lifecycle_stage}" for r in runs) or "none"
    return {"case": name, "seconds": wall, "exit": code, "runs left": left, "message": last}


def run_capturing(args: list[str], root: Path) -> tuple[float, str, str, int]:
    """(wall seconds, stdout, stderr, exit code) of `python train.py ARGS` under root."""
    import os
    import subprocess
    import time

    env = {**os.environ, "TUNELAB_ROOT": str(root), "PYTHONWARNINGS": "ignore"}
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    done = subprocess.run(
        [PYTHON, str(ROOT / "train.py"), *args], cwd=root, env=env, capture_output=True, text=True
    )
    return time.perf_counter() - start, done.stdout, done.stderr, done.returncode


def main() -> None:
    rows = [try_case(name, scratch()) for name in CASES]
    report(
        "bad_inputs",
        "Bad inputs: the line `python train.py` ends with, seconds to it, runs left in the store",
        rows,
        ["runs left: status/lifecycle of every run in the store (deleted runs included)"],
    )


if __name__ == "__main__":
    main()
