"""Screenshots of the MLflow UI and of what tunelab logs, as a person sees them: `make screenshots`.

Builds a small store in a scratch folder (a run and its evaluation, a grid sweep, a short Optuna
study with pruned trials), serves it with `mlflow ui`, and saves, from a headless Chromium
driven by Playwright: the runs list with every parent expanded, the sweep parent's page, and a
child run's page, under docs/screenshots/. Then, in a second store, the pictures of
docs/analysis.md: an image classifier's, a table model's and a text classifier's explanations,
a comparison run, and MLflow's compare view of a network beside the scikit-learn baselines.
Needs the `screenshots` extra (Playwright's Python package) and a Chromium binary (Debian:
apt-get install chromium); Playwright's own browser download is not used.

    python scripts/screenshots.py [ui|analysis]     # both when neither is named
"""

import json
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


def build_store(root: Path) -> dict[str, str]:
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
    return {}


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


def tunelab(root: Path, *args: str) -> str:
    """stdout of `python ARGS` run in root's store (a script of the repository or -m module)."""
    env = {**os.environ, "TUNELAB_ROOT": str(root), "PYTHONWARNINGS": "ignore"}
    env.pop("MLFLOW_TRACKING_URI", None)
    first = str(ROOT / args[0]) if args[0].endswith(".py") else args[0]
    done = subprocess.run(
        [sys.executable, first, *args[1:]],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def run_id(stdout: str) -> str:
    return stdout.split("/runs/")[-1].split("?")[0]


def build_analysis(root: Path) -> dict[str, str]:
    """The runs docs/analysis.md shows: three evaluations with explain=true, the diabetes MLP
    beside a sweep of four baselines and their comparison, and a comparison of two learning
    rates with three seeds each; what the pictures need (folders, run ids)."""
    quiet = ["print_config=false", "callbacks.progress_bar=null"]
    found = {}
    for name, job in {
        "digits": [],  # the default CNN
        "diabetes": ["experiment=diabetes_mlp"],
        "text": ["experiment=text_bag"],
    }.items():
        trained = run_id(tunelab(root, "train.py", *job, *quiet))
        evaluated = tunelab(root, "eval.py", f"run_id={trained}", "explain=true")
        found[name] = evaluated.split("files in:")[-1].split()[0]  # the evaluation's folder
    estimators = "estimator=linear,random_forest,gradient_boosting,svm"
    tunelab(root, "baseline.py", "-m", estimators, "tracking.experiment=diabetes_mlp")
    compared = tunelab(root, "compare.py", "--experiment", "diabetes_mlp")
    found["baselines"] = compared.split("comparison run: ")[-1].split()[0]
    seeds = ["optimizer.lr=1e-3,1e-2", "seed=1,2,3", "tracking.experiment=diabetes_seeds"]
    sweep = tunelab(root, "train.py", "-m", "experiment=diabetes_mlp", *seeds, *quiet)
    parent = sweep.split("MLflow parent run: ")[-1].split()[0]
    compared = tunelab(root, "compare.py", "--sweep", parent)
    found["seeds"] = compared.split("comparison run: ")[-1].split()[0]
    return found


def report_url(client, base: str, run: str) -> str:
    experiment = client.get_run(run).info.experiment_id
    return f"{base}/#/experiments/{experiment}/runs/{run}/artifacts?{VIEW}"


def shoot_analysis(root: Path, base: str, found: dict[str, str]) -> list[Path]:
    from mlflow import MlflowClient
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    saved = [OUT / "explain_image.png", OUT / "explain_table.png"]
    shutil.copy(Path(found["digits"]) / "attributions.png", saved[0])
    shutil.copy(Path(found["diabetes"]) / "permutation_importance.png", saved[1])
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    shots = {  # the picture, its page, the heading to scroll to
        "explain_text.png": ((Path(found["text"]) / "token_attributions.html").as_uri(), None),
        "compare.png": (report_url(client, base, found["seeds"]), "Config keys that differ"),
        "baselines.png": (report_url(client, base, found["baselines"]), "Metrics (delta"),
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", "--disable-background-networking"]
        )
        for name, (url, heading) in shots.items():
            height = {None: 300, "Config keys that differ": 1400}.get(heading, 1000)
            page = browser.new_page(viewport={"width": 1400, "height": height})
            page.goto(url)
            page.wait_for_load_state("load")
            if heading is not None:  # the report, rendered by MLflow's Markdown view
                time.sleep(5)
                close = page.get_by_role("button", name="Close")  # the assistant's side panel
                if close.count():
                    close.first.click()
                page.get_by_text("comparison.md").first.click()
                time.sleep(2)
                page.get_by_text(heading).first.scroll_into_view_if_needed()
                page.get_by_text(heading).first.evaluate("e => e.scrollIntoView()")
                time.sleep(1)
            page.screenshot(path=str(OUT / name), full_page=heading is None)
            saved.append(OUT / name)
            page.close()
        browser.close()
    return saved


def main() -> None:
    """python scripts/screenshots.py [ui|analysis [FOLDER]]: FOLDER, a store built before."""
    parts = sys.argv[1:2] or ["ui", "analysis"]
    for part in parts:
        if len(sys.argv) > 2:  # shoot again what an earlier call built
            root = Path(sys.argv[2])
            found = json.loads((root / "found.json").read_text()) if part == "analysis" else {}
        else:
            root = Path(tempfile.mkdtemp(prefix=f"tunelab-screens-{part}-"))
            found = build_analysis(root) if part == "analysis" else build_store(root)
            (root / "found.json").write_text(json.dumps(found))
        port = free_port()
        server = serve(root, port)
        base = f"http://127.0.0.1:{port}"
        try:
            shots = shoot_analysis(root, base, found) if part == "analysis" else shoot(root, base)
            for path in shots:
                print(path.relative_to(ROOT))
        finally:
            server.terminate()


if __name__ == "__main__":
    main()
