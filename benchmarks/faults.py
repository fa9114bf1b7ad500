"""Faults an operator meets, each injected into real `train.py` runs in turn (digits, a small
MLP, the local SQLite store); the table says what the user saw and what the store kept.

python -m benchmarks.faults [--tiny] [--code CHECKOUT]

--code runs another checkout's train.py and package (its src/) with the same faults: the
before/after of a change. The full-disk row mounts a small tmpfs (root only; else skipped).
"""

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.common import ROOT, report, scratch
from tunelab.training.rerun import unreadable  # what resume= checks

RUN = ["model=mlp", "model.hidden_dim=16", "data.batch_size=8", "callbacks.early_stopping=null"]
RUN += ["print_config=false", "callbacks.progress_bar=null", "tracking.flush_seconds=0"]
BEST_FIRST = ["objective.metric=val/loss", "objective.mode=max"]  # best stays epoch 0's


class Job:
    """`python CODE/train.py ARGS` in `root`, its console lines kept with the time each came."""

    def __init__(self, code: Path, args: list[str], root: Path) -> None:
        env = {**os.environ, "TUNELAB_ROOT": str(root), "PYTHONWARNINGS": "ignore"}
        env["PYTHONPATH"] = str(code / "src")
        env.pop("MLFLOW_TRACKING_URI", None)
        self.started = time.time()
        self.process = subprocess.Popen(
            [sys.executable, str(code / "train.py"), *args],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # the console as the user sees it: Hydra logs to stdout
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append((time.time(), line.rstrip()))

    def wait(self) -> int:
        code = self.process.wait(timeout=600)
        self.reader.join(timeout=10)
        return code

    def last_line(self) -> str:
        """What the user saw last: a traceback's last line, or the job's own."""
        text = [line for _, line in self.lines if line.strip()]
        shown = "traceback: " if any(line.startswith("Traceback") for line in text) else ""
        return (shown + (text[-1] if text else "(nothing)"))[:150]

    def seen(self, words: str) -> float | None:
        """When a console line with `words` came, None if none did."""
        return next((t for t, line in self.lines if words in line), None)

    def line_with(self, words: str) -> str:
        """The console line with `words`, else the last line."""
        return next((line[:150] for _, line in self.lines if words in line), self.last_line())


def client(root: Path):
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{root}/mlflow.db")


def runs(root: Path) -> list:
    store = client(root)
    experiment = store.get_experiment_by_name("tunelab")
    return store.search_runs([experiment.experiment_id]) if experiment else []


def epochs_logged(root: Path, run_id: str) -> list[int]:
    return sorted(m.step for m in client(root).get_metric_history(run_id, "val/acc"))


def wait_for_epochs(root: Path, epochs: int, job: Job) -> str:
    """Until the run has logged `epochs` epochs of val/acc; its run id."""
    while job.process.poll() is None:
        time.sleep(0.3)
        ready = list(root.glob("outputs/*/*/checkpoints/*.ckpt"))  # the store exists then
        found = runs(root) if ready else []
        if found and len(epochs_logged(root, found[0].info.run_id)) >= epochs:
            return found[0].info.run_id
    raise RuntimeError(f"the job ended first: {job.last_line()}")


def state(root: Path, run_id: str, epochs: int) -> tuple[str, str]:
    """(the run's store state, the points lost or doubled) against `epochs` epochs trained."""
    run = client(root).get_run(run_id)
    steps = epochs_logged(root, run_id)
    model = "model" if "model_uri" in run.data.tags else "no model"
    tests = "test metrics" if "test/acc" in run.data.metrics else "no test metrics"
    lost = epochs - len(set(steps))
    doubled = len(steps) - len(set(steps))
    points = f"{lost} of {epochs} epochs missing, {doubled} logged twice"
    return f"{run.info.status}, {len(steps)} val/acc points, {tests}, {model}", points


def command_line(process) -> str:
    """A process's command line; empty for one that ended meanwhile (a child the job started
    and has not reaped yet is a zombie, whose command line psutil refuses)."""
    import psutil

    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def writer_killed(code: Path, tiny: bool) -> dict:
    """SIGKILL of the MLflow writer process in the middle of fit (the OOM killer's choice)."""
    import psutil

    root, epochs = scratch(), 6 if tiny else 12
    job = Job(code, [*RUN, f"trainer.max_epochs={epochs}"], root)
    run_id = wait_for_epochs(root, 2, job)
    writers = [
        child
        for child in psutil.Process(job.process.pid).children()
        if "tunelab.tracking.writer" in command_line(child)
    ]
    killed = time.time()
    for writer in writers:
        writer.kill()
    exit_code = job.wait()
    noticed = job.seen("writer process stopped")
    store, points = state(root, run_id, epochs)
    found = row(
        "the MLflow writer killed (SIGKILL) in fit", noticed, killed, job, exit_code, store, points
    )
    return found | {"user saw": job.line_with("writer process stopped")}


def resume_after_best(code: Path, tiny: bool) -> dict:
    """SIGTERM after several epochs past the best one, then resume= with two epochs more."""
    root = scratch()
    job = Job(code, [*RUN, *BEST_FIRST, "trainer.max_epochs=40"], root)
    run_id = wait_for_epochs(root, 4, job)
    job.process.send_signal(signal.SIGTERM)
    job.wait()
    trained = len(set(epochs_logged(root, run_id)))
    resumed = Job(code, [f"resume={run_id}", f"trainer.max_epochs={trained + 2}"], root)
    exit_code = resumed.wait()
    store, points = state(root, run_id, trained + 2)
    return row(
        "resume= of a run stopped 3 epochs past its best",
        None,
        0,
        resumed,
        exit_code,
        store,
        points,
    )


def bad_trial_value(code: Path, tiny: bool) -> dict:
    """A sweep whose first trial has a bad value: `-m optimizer.lr=-1,1e-3`."""
    root = scratch()
    job = Job(code, ["-m", *RUN, "optimizer.lr=-1,1e-3", "trainer.max_epochs=1"], root)
    exit_code = job.wait()
    children = [r for r in runs(root) if "mlflow.parentRunId" in r.data.tags]
    failed = [r for r in children if r.info.status == "FAILED"]
    line = next((line for _, line in job.lines if "trial 0 failed" in line), job.last_line())
    shown = ("traceback, then: " if job.seen("Traceback") else "") + line[:120]
    store = f"{len(children)} trial runs, {len(failed)} FAILED"
    return {"fault": "a bad value in one trial of a sweep", "detected after s": "-"} | {
        "user saw": shown,
        "exit": exit_code,
        "store": store,
        "points lost": "-",
    }


def damaged_checkpoint(code: Path, tiny: bool) -> dict:
    """last.ckpt cut to half its size (a copy cut short), then resume= with more epochs."""
    root = scratch()
    job = Job(code, [*RUN, *BEST_FIRST, "trainer.max_epochs=3"], root)
    job.wait()
    (run,) = runs(root)
    (last,) = root.glob("outputs/*/*/checkpoints/last.ckpt")
    data = last.read_bytes()
    last.unlink()  # a file of its own, even where last.ckpt was a link to best.ckpt
    last.write_bytes(data[: len(data) // 2])
    resumed = Job(code, [f"resume={run.info.run_id}", "trainer.max_epochs=5"], root)
    exit_code = resumed.wait()
    store, points = state(root, run.info.run_id, 5)
    found = row("resume= with last.ckpt damaged", None, 0, resumed, exit_code, store, points)
    return found | {"user saw": resumed.line_with("is damaged")}


def full_disk(code: Path, tiny: bool) -> dict:
    """The run folder's disk fills up after the second epoch (a small tmpfs, then a filler)."""
    name = "the run folder's disk full in fit"
    mount = scratch() / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)]).returncode:
        skipped = {"fault": name, "user saw": "not measured: mounting a tmpfs needs root"}
        return skipped | {k: "-" for k in ("detected after s", "exit", "store", "points lost")}
    try:
        root = scratch()
        # The default objective: improving, so checkpoints are written every epoch.
        job = Job(code, [*RUN, "trainer.max_epochs=12", f"hydra.run.dir={mount}/run"], root)
        while not list(mount.glob("run/checkpoints/last.ckpt")) and job.process.poll() is None:
            time.sleep(0.2)
        filled = time.time()
        subprocess.run(["dd", "if=/dev/zero", f"of={mount}/filler", "bs=1k"], capture_output=True)
        exit_code = job.wait()
        (run,) = runs(root)
        epochs = len(set(epochs_logged(root, run.info.run_id)))
        store, points = state(root, run.info.run_id, epochs)
        resumable = "resumable" in client(root).get_run(run.info.run_id).data.tags
        store += ", tagged resumable" if resumable else ""
        files = sorted((mount / "run" / "checkpoints").glob("*.ckpt"))
        readable = [f.name for f in files if unreadable(f) is None]
        store += f"; on disk {len(files)} checkpoints, readable: {', '.join(readable) or 'none'}"
        return row(name, None, filled, job, exit_code, store, points)
    finally:
        subprocess.run(["umount", str(mount)])


def lost_node(code: Path, tiny: bool) -> dict:
    """The training process and its writer killed at once (a node gone, no signal handled);
    then resume= of the run it left RUNNING, after the heartbeat's grace."""
    import psutil

    root = scratch()
    beats = (code / "conf/tracking/mlflow.yaml").read_text().count("heartbeat_seconds") > 0
    job = Job(
        code,
        [*RUN, "trainer.max_epochs=40", *(["tracking.heartbeat_seconds=1"] if beats else [])],
        root,
    )
    run_id = wait_for_epochs(root, 2, job)
    for process in [*psutil.Process(job.process.pid).children(), psutil.Process(job.process.pid)]:
        process.kill()
    job.wait()
    time.sleep(5)  # four missed beats of 1 s
    resumed = Job(code, [f"resume={run_id}", "trainer.max_epochs=4"], root)
    exit_code = resumed.wait()
    store, points = state(root, run_id, 4)
    return row(
        "a lost node: resume= of the run it left RUNNING",
        None,
        0,
        resumed,
        exit_code,
        store,
        points,
    )


def row(
    fault: str,
    noticed: float | None,
    since: float,
    job: Job,
    exit_code: int,
    store: str,
    points: str,
) -> dict:
    return {
        "fault": fault,
        "detected after s": f"{noticed - since:.1f}" if noticed else "-",
        "user saw": job.last_line(),
        "exit": exit_code,
        "store": store,
        "points lost": points,
    }


FAULTS = [
    writer_killed,
    resume_after_best,
    bad_trial_value,
    damaged_checkpoint,
    full_disk,
    lost_node,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="the writer fault alone")
    parser.add_argument("--only", choices=[f.__name__ for f in FAULTS], help="one fault")
    parser.add_argument(
        "--code", type=Path, default=ROOT, help="a checkout to run (default: this one)"
    )
    options = parser.parse_args()
    faults = FAULTS[:1] if options.tiny else FAULTS
    faults = [f for f in faults if options.only in (None, f.__name__)]
    rows = [fault(options.code.resolve(), options.tiny) for fault in faults]
    report(
        "faults" if options.code.resolve() == ROOT else "faults_other_code",
        f"Faults injected into train.py runs of {options.code.resolve()}",
        rows,
        [
            "detected after: from the fault to the console's line about it (for the writer: "
            "noticed, a new writer started and the run's requests sent again)",
            f"python -m benchmarks.faults --code {options.code}",
        ],
    )


if __name__ == "__main__":
    main()
