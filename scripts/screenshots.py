"""Screenshots of the MLflow UI as a person sees it: `make screenshots`.

Builds a small store in a scratch folder (a run and its evaluation, a grid sweep, a short Optuna
study with pruned trials), serves it with `mlflow ui`, and saves, from a headless Chromium
driven by Playwright: the runs list with every parent expanded, the sweep parent's page, and a
child run's page, under docs/screenshots/. Needs the `screenshots` extra (Playwright's Python package) and a Chromium
binary (Debian: apt-get install chromium); Playwright's own browser download is not used.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
JOBS = [
    ["model=mlp", "trainer.max_epochs=6"],
    ["-m", "model=mlp", "trainer.max_epochs=6", "optimizer.lr=1e-3,3e-3,1e-2"],
    ["-m", "hparams_search=digits_tpe", "hydra.sweeper.n_trials=6", "trainer.max_epochs=4"],
]
VIEW = "workflowType=machine_learning"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise SystemExit("screenshots: no Chromium found: apt-get install chromium")


def build_store(root: Path) -> None:
    env = {**os.environ, "TUNELAB_ROOT": str(root), "PYTHONWARNINGS": "ignore"}
    env.pop("MLFLOW_TRACKING_URI", None)
    for args in JOBS:
        subprocess.run(
            [sys.executable, str(ROOT / "train.py"), *args],
            cwd=root,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    from mlflow import MlflowClient  # the first run's evaluation, nested under it

    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("tunelab").experiment_id
    (first, *_) = client.search_runs([experiment], order_by=["attributes.start_time ASC"])
    subprocess.run(
        [sys.executable, str(ROOT / "eval.py"), f"run_id={first.info.run_id}"],
        cwd=root,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path, port: int) -> subprocess.Popen:
    mlflow = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen(
        [
            str(mlflow),
            "ui",
            "--backend-store-uri",
            f"sqlite:///{root}/mlflow.db",
            "--port",
            str(port),
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("screenshots: mlflow ui did not start")


def shoot(root: Path, base: str) -> list[Path]:
    from mlflow import MlflowClient
    from playwright.sync_api import sync_playwright

    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("tunelab").experiment_id
    runs = client.search_runs([experiment], order_by=["attributes.start_time ASC"])
    grid = next(r for r in runs if r.info.run_name.startswith("sweep lr "))
    child = next(r for r in runs if r.data.tags.get("mlflow.parentRunId") == grid.info.run_id)
    OUT.mkdir(parents=True, exist_ok=True)
    shots = {
        "runs.png": f"{base}/#/experiments/{experiment}/runs?{VIEW}",
        "sweep_parent.png": f"{base}/#/experiments/{experiment}/runs/{grid.info.run_id}?{VIEW}",
        "child_run.png": f"{base}/#/experiments/{experiment}/runs/{child.info.run_id}?{VIEW}",
    }
    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        for name, url in shots.items():
            page.goto(url)
            page.wait_for_load_state("load")
            time.sleep(4)  # the UI keeps polling: wait for the tables and charts to draw
            close = page.get_by_role("button", name="Close")  # the assistant's side panel
            if close.count():
                close.first.click()
            if (
                name == "runs.png"
            ):  # expand every parent: the row buttons with neither label nor text
                rows = page.locator("[role=row] button:not([aria-label]):not([data-testid])")
                for expander in [b for b in rows.all() if not b.inner_text().strip()]:
                    expander.click()
                    time.sleep(0.5)
            time.sleep(1)
            page.screenshot(path=str(OUT / name), full_page=False)
            saved.append(OUT / name)
        browser.close()
    return saved


def main() -> None:
    if len(sys.argv) > 1:  # a store built before: python scripts/screenshots.py FOLDER
        root = Path(sys.argv[1])
    else:
        root = Path(tempfile.mkdtemp(prefix="tunelab-screens-"))
        build_store(root)
    port = free_port()
    server = serve(root, port)
    try:
        for path in shoot(root, f"http://127.0.0.1:{port}"):
            print(path.relative_to(ROOT))
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
