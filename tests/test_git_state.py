"""A run records the code it ran: the commit, whether the tree was dirty (untracked files under
src/ and conf/ count), and the uncommitted changes as a git.diff artifact."""

import subprocess
from pathlib import Path

from tests.conftest import store_uri, train_in_process
from tunelab.tracking.identity import git_state


def git(root, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def repository(root) -> None:
    git(root, "init", "-q")
    (root / "notes.txt").write_text("first\n")
    git(root, "add", "notes.txt")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")


def test_untracked_code_makes_the_tree_dirty_and_other_files_do_not(tmp_path) -> None:
    repository(tmp_path)
    (tmp_path / "scratch.txt").write_text("not code\n")
    assert git_state(tmp_path)["git.dirty"] == "false"
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mine.yaml").write_text("a: 1\n")
    assert git_state(tmp_path)["git.dirty"] == "true"


def test_a_dirty_run_logs_its_diff(tmp_path) -> None:
    from mlflow import MlflowClient

    repository(tmp_path)
    (tmp_path / "notes.txt").write_text("first\nchanged line\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "new_model.py").write_text("WIDTH = 3\n")
    job = train_in_process(["model=mlp", "trainer.max_epochs=1"], tmp_path)
    client = MlflowClient(store_uri(tmp_path))
    run = client.get_run(job.run.run_id)
    assert run.data.tags["git.dirty"] == "true"
    diff = Path(client.download_artifacts(run.info.run_id, "git.diff", str(tmp_path))).read_text()
    assert "+changed line" in diff and "src/new_model.py" in diff and "+WIDTH = 3" in diff
    assert "mlflow.db" not in diff and "outputs" not in diff
