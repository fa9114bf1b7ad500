"""The MLflow writer: what a training process sends lands in the store, whatever happens to it."""

import io
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TINY, run_entry, store_uri, train_in_process
from tunelab.tracking.requests import (
    EndRun,
    Flush,
    LogArtifact,
    LogDict,
    LogMetrics,
    Request,
    SetTags,
    StartRun,
)


def start_request(uri: str, flush_seconds: float = 5.0) -> StartRun:
    params = {"optimizer.lr": "0.01", "model.name": "cnn"}
    return StartRun(uri, "writer-test", "a-run", {"who": "test"}, params, flush_seconds)


def only_run(uri: str):
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("writer-test").experiment_id])
    assert len(runs) == 1
    return client, runs[0]


def serve_requests(requests: list[Request]) -> list:
    """Run the writer's loop over the pickled requests; its answers in the order of the
    requests (a run's end is answered when its last writes are done, not in turn)."""
    from tunelab.tracking.writer import serve

    stream, replies = io.BytesIO(), io.BytesIO()
    for ticket, request in enumerate(requests):
        pickle.dump((ticket if request.answered else None, request), stream)
    stream.seek(0)
    serve(stream, replies)
    replies.seek(0)
    answers = {}
    while replies.tell() < len(replies.getvalue()):
        ticket, answer = pickle.load(replies)
        answers[ticket] = answer
    return [answers[ticket] for ticket in sorted(answers)]


def test_requests_land_in_the_store(tmp_path) -> None:
    uri = store_uri(tmp_path)
    artifact = tmp_path / "notes.txt"
    artifact.write_text("hello")
    answers = serve_requests(
        [
            start_request(uri),
            SetTags({"device": "cpu"}),
            LogMetrics([("val/acc", 0.5, 1000, 0), ("val/acc", 0.75, 2000, 1)]),
            LogArtifact(str(artifact), "extra"),
            LogDict({"classes": ["a", "b"]}, "data_info.json"),
            EndRun("FINISHED"),
        ]
    )
    client, run = only_run(uri)
    ended = (True, ("FINISHED", []))  # the status it ended with, no failed write
    assert answers == [(True, (run.info.run_id, run.info.experiment_id)), ended]
    assert run.info.status == "FINISHED"
    assert run.data.params == {"optimizer.lr": "0.01", "model.name": "cnn"}
    assert run.data.tags["who"] == "test" and run.data.tags["device"] == "cpu"
    history = client.get_metric_history(run.info.run_id, "val/acc")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(0, 0.5, 1000), (1, 0.75, 2000)]
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert files == {"extra", "data_info.json"}


def test_a_training_process_that_vanishes_leaves_its_run_killed(tmp_path) -> None:
    uri = store_uri(tmp_path)
    serve_requests([start_request(uri), LogMetrics([("train/loss", 1.0, 1000, 0)])])
    client, run = only_run(uri)
    assert run.info.status == "KILLED"
    assert "without closing" in run.data.tags["error"]
    assert len(client.get_metric_history(run.info.run_id, "train/loss")) == 1  # not lost


def test_a_store_that_cannot_open_answers_the_error(tmp_path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    uri = f"sqlite:///{tmp_path}/a-file/mlflow.db"
    answers = serve_requests([start_request(uri), SetTags({"a": "b"}), EndRun("FINISHED")])
    assert answers[0] == (False, f"{tmp_path}/a-file is not a folder")
    assert answers[1] == (True, ("FINISHED", []))  # a run that never started: nothing done


def test_failed_writes_are_reported_at_the_end(tmp_path) -> None:
    answers = serve_requests(
        [
            start_request(store_uri(tmp_path)),
            LogArtifact(str(tmp_path / "no-such-file.txt"), None),
            EndRun("FINISHED"),
        ]
    )
    ok, (status, errors) = answers[1]
    assert ok and len(errors) == 1 and errors[0].startswith("log_artifact")
    assert status == "FINISHED"  # its own file was missing: not the artifact store's fault


@pytest.mark.parametrize("flush_seconds", [0.0, 3600.0])
def test_metrics_are_written_in_batches(tmp_path, flush_seconds: float) -> None:
    from tunelab.tracking.writer import RunWriter

    writer = RunWriter()
    run_id, _ = writer.start(start_request(store_uri(tmp_path), flush_seconds))
    writer.log_metrics([("lr", 0.1, 1000, 0)])
    writer.log_metrics([("lr", 0.1, 2000, 1)])
    client, _ = only_run(store_uri(tmp_path))
    written = len(client.get_metric_history(run_id, "lr"))
    assert written == (2 if flush_seconds == 0 else 0)  # an hour's batch waits
    writer.handle(Flush())  # unless the run asks (after fit, before the test)
    assert len(client.get_metric_history(run_id, "lr")) == 2
    writer.log_metrics([("lr", 0.1, 3000, 2)])
    writer.end("FINISHED")
    assert len(client.get_metric_history(run_id, "lr")) == 3


TRAINING_PROCESS = """
import sys, time
from tunelab.tracking.requests import StartRun
from tunelab.tracking.run import TrackedRun, open_writer
run = TrackedRun(
    writer=open_writer("process"),
    start=StartRun(sys.argv[1], "writer-test", "a-run", {}, {"seed": "1"}),
    config={"seed": 1},
)
run.log_metrics({"train/loss": 1.0}, step=0)
print(run.wait_started(), "mlflow" in sys.modules, flush=True)
if sys.argv[2] == "end":
    run.end("FINISHED")
else:
    time.sleep(600)
"""


def training_process(uri: str, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", TRAINING_PROCESS, uri, mode],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.process  # a real job process
def test_the_training_process_never_imports_mlflow(tmp_path) -> None:
    uri = store_uri(tmp_path)
    process = training_process(uri, "end")
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    run_id, imported = out.split()
    assert imported == "False"
    client, run = only_run(uri)
    assert run.info.run_id == run_id and run.info.status == "FINISHED"
    assert client.get_metric_history(run_id, "train/loss")[0].value == 1.0


@pytest.mark.process  # a real job process
def test_a_killed_training_process_leaves_its_run_killed(tmp_path) -> None:
    uri = store_uri(tmp_path)
    process = training_process(uri, "sleep")
    assert process.stdout is not None
    run_id = process.stdout.readline().split()[0]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    deadline = time.monotonic() + 60
    while client.get_run(run_id).info.status == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.get_run(run_id).info.status == "KILLED"
    assert client.get_metric_history(run_id, "train/loss")[0].value == 1.0


@pytest.mark.process  # a real job process
def test_a_bad_store_stops_the_run_before_training(tmp_path: Path) -> None:
    result = run_entry(
        [*TINY, "tracking.uri=sqlight:///mlflow.db"],  # a typo in the scheme
        tmp_path,
        check=False,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("tunelab: MLflow could not start the run in tracking.uri=sqlight:///")
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("outputs/*/*/checkpoints"))  # stopped before training


def test_inline_writer_tracks_the_same_run(tmp_path: Path, client_for) -> None:
    train_in_process(["tracking.writer=inline", "tracking.flush_seconds=0"], tmp_path)
    client = client_for(tmp_path)
    (run,) = client.search_runs([client.get_experiment_by_name("tunelab").experiment_id])
    assert run.info.status == "FINISHED"
    assert len(client.get_metric_history(run.info.run_id, "val/acc")) == 2
    assert {f.path for f in client.list_artifacts(run.info.run_id)} >= {
        "config.yaml",
        "checkpoints",
    }


def test_a_rerun_on_other_data_says_so(caplog) -> None:
    """reproduce= and resume= hand the source run's data.fingerprint to the new run, which
    warns when the data it loads hashes differently."""
    from types import SimpleNamespace

    from tunelab.tracking.run import TrackedRun

    run = TrackedRun(
        writer=None, start=StartRun("", "", "", {}, {}), data_fingerprint="recorded123"
    )
    summary = {"name": "digits", "fingerprint": "other456", "train_size": 9, "num_classes": 1}
    import torch

    data = SimpleNamespace(classes=["0"], info={}, x=torch.zeros(9, 1, 8, 8))
    datamodule = SimpleNamespace(summary=summary, data=data, input_shape=(1, 8, 8))
    trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=SimpleNamespace(type="cpu")))
    with caplog.at_level("WARNING"):
        run.log_setup(datamodule, trainer)
    expected = "the data differs from the recorded run's: data.fingerprint other456, recorded"
    assert f"{expected} recorded123" in caplog.text


def test_every_request_type_has_a_writer_method() -> None:
    """RunWriter.serve matches each request of tunelab.tracking.requests to its method; one
    left out would be refused at run time (TypeError), so each must have its case."""
    import inspect

    from tunelab.tracking import requests
    from tunelab.tracking.writer import RunWriter

    served = inspect.getsource(RunWriter.serve)
    declared = [
        cls
        for _, cls in inspect.getmembers(requests, inspect.isclass)
        if issubclass(cls, Request) and cls is not Request
    ]
    assert len(declared) >= 16
    cases = re.findall(r"case (.+):", served)  # one type, or several joined by |
    matched = {name.strip().removesuffix("()") for case in cases for name in case.split("|")}
    assert not [c.__name__ for c in declared if c.__name__ not in matched]


@pytest.mark.parametrize("names", [["0", "1", "2"], ["sneaker", "ankle boot", "pullover"]])
def test_the_confusion_matrix_shades_each_cell_by_its_count(tmp_path: Path, names) -> None:
    """The PNG every classification run logs: at least 1,000 px wide (readable in MLflow's
    artifact view), each cell darker the larger its count, with short or long class names."""
    from PIL import Image

    from tunelab.tracking.confusion import BLUES, confusion_matrix_image

    counts = [[50, 0, 5], [2, 40, 0], [0, 25, 10]]
    image = Image.open(confusion_matrix_image(counts, names, tmp_path / "matrix.png"))
    assert image.width >= 1000
    pixels = image.convert("RGB")
    row = [pixels.getpixel((x, 80)) for x in range(image.width)]  # across the grid's first row
    darkest = row.index(BLUES[-1])  # the 50 in row 0, column 0
    lightest = row.index(BLUES[0])  # its 0, column 1
    assert darkest < lightest
    middle = [p for p in row[lightest:] if p not in (BLUES[0], (255, 255, 255))]
    assert middle, "the 5 in column 2 has a light shade of its own"
    assert sum(middle[0]) > sum(BLUES[-1])  # lighter than the 50
