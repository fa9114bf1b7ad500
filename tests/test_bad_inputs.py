"""Data files that cannot be used end in one line naming the file and what to do; a single run
stopped that way before training leaves no run in the experiment (it is deleted)."""

from pathlib import Path

import pytest
from mlflow.entities import ViewType

from benchmarks.bad_inputs import CASES
from tests.conftest import TINY, compose_config, run_in_process
from tunelab.errors import DataError, instantiate

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it

# Cases of benchmarks/bad_inputs.py that need the data (the config ones: tests/test_checks.py).
MESSAGES = {
    "CSV empty": "table.csv is empty: data.source.path must name a CSV file with a header row",
    "CSV header only": "table.csv has a header but no rows",
    "CSV not UTF-8": "table.csv is not utf-8 text (it holds byte 0xe9): save it as UTF-8, or "
    "name its encoding with data.source.encoding (e.g. latin-1)",
    "CSV target column missing": "table.csv: no column 'species' (data.source.target)",
    "CSV NaN in target": "table.csv: the target column 'species' is empty in 1 row(s) (line 3)",
    "CSV text in a feature": "table.csv: column 'size' is not numeric (e.g. 'big')",
    "images are .bmp": "0.bmp: .bmp images cannot be decoded (3 such file(s) under",
    "image file corrupt": "0.png: it is damaged or not a .png, .jpg, .gif or .webp image",
}


@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_data_error_names_the_file(tmp_path: Path, case: str) -> None:
    cfg = compose_config(CASES[case](tmp_path))
    with pytest.raises(DataError) as caught:
        instantiate(cfg.data.source)
    assert MESSAGES[case] in str(caught.value)
    assert str(tmp_path) in str(caught.value)  # the file or folder, by its path


def test_latin1_table_reads_with_its_encoding(tmp_path: Path) -> None:
    cfg = compose_config([*CASES["CSV not UTF-8"](tmp_path), "data.source.encoding=latin-1"])
    assert instantiate(cfg.data.source).classes == ["café", "thé"]


def test_single_run_with_bad_data_ends_in_one_line_and_leaves_no_run(
    tmp_path: Path, client_for
) -> None:
    result = run_in_process([*TINY, *CASES["CSV header only"](tmp_path)], tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"tunelab: {tmp_path / 'table.csv'} has a header but no rows: "
        "data.source.path must name a CSV file with data"
    )
    assert "Traceback" not in result.stderr
    client = client_for(tmp_path)
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert client.search_runs(experiments) == []  # none in the UI or a search
    (deleted,) = client.search_runs(experiments, run_view_type=ViewType.DELETED_ONLY)
    assert deleted.info.status == "FAILED"  # deleted, not lost: `mlflow gc` purges it
