"""Text sources: a table with a text column, a folder of .txt files (one folder per class), the
offline library-docs set, and AG News and IMDB reviews from paths.data_dir (downloaded only when
asked). Each returns the raw texts; the DataModule learns the tokenizer on the training split
and encodes them (tunelab.data.tokenizers)."""

from pathlib import Path
from typing import Any

import torch

from tunelab.data.csv_table import check_columns, check_targets, target_tensor
from tunelab.data.folders import split_folders
from tunelab.data.inputs import read_table
from tunelab.data.labeled import LabeledData
from tunelab.data.torchvision_sets import fetch_or_explain
from tunelab.errors import DataError


def text_data(
    name: str,
    texts: list[str],
    y: torch.Tensor,
    classes: list[str],
    info: dict[str, object],
    column: str = "text",
    targets: list[str] | None = None,
    fixed_splits: dict[str, torch.Tensor] | None = None,
) -> LabeledData:
    """Texts as a LabeledData: x is filled by the DataModule once the tokenizer is fitted;
    `column` is what a served model's input table calls the text."""
    return LabeledData(
        name,
        torch.empty((len(texts), 0), dtype=torch.int64),
        y,
        classes,
        fixed_splits=fixed_splits or {},
        standardize=None,
        info=info,
        raw={"kind": "text", "column": column},
        targets=targets or [],
        texts=texts,
    )


def load_text_csv(
    path: str,
    text: str,
    target: str | list[str],
    encoding: str = "utf-8",
    task: str = "classification",
) -> LabeledData:
    """The `text` column of a CSV file and its target column(s), classes or numbers."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"CSV file {file} does not exist: set data.source.path")
    table = read_table(file, "data.source.path", encoding)
    return table_texts(table, f"text_csv:{file.stem}", str(file), text, target, task)


def table_texts(
    table: Any, name: str, where: str, text: str, target: str | list[str], task: str
) -> LabeledData:
    """A DataFrame's text column and target(s) as a LabeledData; `where` names it in errors."""
    import pandas as pd

    targets = [target] if isinstance(target, str) else list(target)
    check_columns(table, where, {"text": [text], "target": targets})
    check_targets(table, targets, where, task)
    column = table[text]
    if (missing := column.isna()).any():
        rows = [str(i + 2) for i in missing[missing].index[:3]]  # line numbers, the header is 1
        raise DataError(
            f"{where}: the text column {text!r} is empty in {int(missing.sum())} row(s) "
            f"(line {', '.join(rows)}): fill or drop those rows"
        )
    if pd.api.types.is_numeric_dtype(column):
        raise DataError(
            f"{where}: the text column {text!r} holds numbers (e.g. {column.iloc[0]!r}), not "
            "text: set data.source.text to the column with the texts"
        )
    y, classes = target_tensor(table, targets, task)
    info: dict[str, object] = {"file": where, "text": text, "target": target}
    regression = targets if task == "regression" else None
    return text_data(name, column.astype(str).tolist(), y, classes, info, text, regression)


def load_text_folder(
    root: str, encoding: str = "utf-8", classes: list[str] | None = None
) -> LabeledData:
    """ROOT/<class>/*.txt, or ROOT/train|val|test/<class>/*.txt (the folders kept as splits);
    `classes` keeps only those class folders (IMDB's train/unsup holds unlabelled reviews)."""
    base = Path(root)
    parts = split_folders(base, "text")
    split_dirs = [s for s in parts if s != "all"]
    found = {split: class_files(folder, classes) for split, folder in parts.items()}
    names = sorted({c for by_class in found.values() for c in by_class})
    texts: list[str] = []
    labels: list[int] = []
    fixed: dict[str, torch.Tensor] = {}
    for split, by_class in found.items():
        start = len(labels)
        for name, files in by_class.items():
            texts += [read_text(f, encoding) for f in files]
            labels += [names.index(name)] * len(files)
        if split not in ("all", "train"):
            fixed[split] = torch.arange(start, len(labels))
    info: dict[str, object] = {"root": str(base), "classes": names, "split_folders": split_dirs}
    return text_data(
        f"text_folder:{base.name}", texts, torch.tensor(labels), names, info, fixed_splits=fixed
    )


def class_files(folder: Path, keep: list[str] | None) -> dict[str, list[Path]]:
    """{class name: its .txt files} from the sub-folders of `folder` (those in `keep`)."""
    folders = sorted(p for p in folder.iterdir() if p.is_dir() and (keep is None or p.name in keep))
    if not folders:
        raise DataError(f"{folder} has no class folders: put texts in {folder}/<class name>/*.txt")
    found = {}
    for sub in folders:
        files = sorted(sub.rglob("*.txt"))
        if not files:
            raise DataError(
                f"class folder {sub} holds no .txt files: add some or remove the folder"
            )
        found[sub.name] = files
    return found


def read_text(path: Path, encoding: str = "utf-8") -> str:
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not {encoding} text (it holds byte {error.object[error.start]:#x}): save "
            "it as UTF-8, or name its encoding with data.source.encoding (e.g. latin-1)"
        ) from None


def load_library_docs(cache: str, libraries: list[str], per_library: int = 1000) -> LabeledData:
    """The offline example (tunelab.data.library_docs): written to the CSV file `cache` on
    first use from the installed libraries' docstrings, then read from it."""
    from tunelab.data.library_docs import write_library_docs

    file = Path(cache)
    if not file.is_file():
        write_library_docs(file, tuple(libraries), per_library)
    data = load_text_csv(str(file), "text", "library")
    data.name = "library_docs"
    return data


# AG News as its authors' CSV files (class index 1-4, title, description; no header).
AG_NEWS_URL = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv"
AG_NEWS_CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"


def load_ag_news(root: str, download: bool = False) -> LabeledData:
    """AG News (120,000 training and 7,600 test news items, 4 topics) from ROOT/ag_news; the
    title and the description make the text; the test file stays the test split."""
    folder = Path(root) / "ag_news"
    files = ("train.csv", "test.csv")
    if download:
        fetch_or_explain(lambda: fetch_files(AG_NEWS_URL, folder, files), "ag_news")
    missing(folder, files, "ag_news")
    parts = [read_ag_news(folder / f) for f in files]
    texts = parts[0][0] + parts[1][0]
    y = torch.cat([parts[0][1], parts[1][1]])
    test = torch.arange(len(parts[0][0]), len(texts))
    info: dict[str, object] = {"folder": str(folder)}
    return text_data("ag_news", texts, y, AG_NEWS_CLASSES, info, fixed_splits={"test": test})


def read_ag_news(file: Path) -> tuple[list[str], torch.Tensor]:
    """One AG News CSV file: its texts (title. description) and class indices (0-3)."""
    import pandas as pd

    try:
        table = pd.read_csv(file, header=None, names=["label", "title", "description"])
        labels = table["label"].astype("int64") - 1
    except (pd.errors.ParserError, ValueError) as error:
        raise DataError(
            f"{file} is not an AG News CSV file (label,title,description): {error}"
        ) from None
    if labels.empty or not labels.between(0, len(AG_NEWS_CLASSES) - 1).all():
        raise DataError(f"{file}: AG News labels are 1-4; this file holds others, or no rows")
    # The descriptions write a line break as a backslash.
    texts = (table["title"].fillna("") + ". " + table["description"].fillna("")).str.replace(
        "\\", " ", regex=False
    )
    return texts.tolist(), torch.tensor(labels.to_numpy())


def load_imdb(root: str, download: bool = False) -> LabeledData:
    """IMDB movie reviews (25,000 training and 25,000 test, negative or positive) from
    ROOT/aclImdb, the archive's folders; the test folder stays the test split."""
    folder = Path(root) / "aclImdb"
    if download:
        from torchvision.datasets.utils import download_and_extract_archive

        fetch_or_explain(lambda: download_and_extract_archive(IMDB_URL, root), "imdb")
    missing(folder, ("train/pos", "train/neg", "test/pos", "test/neg"), "imdb")
    data = load_text_folder(str(folder), classes=["neg", "pos"])
    # Reviews mark their line breaks as HTML.
    assert data.texts is not None
    data.texts = [text.replace("<br />", " ") for text in data.texts]
    data.name = "imdb"
    return data


def fetch_files(base_url: str, folder: Path, names: tuple[str, ...]) -> None:
    from torchvision.datasets.utils import download_url

    for name in names:
        download_url(f"{base_url}/{name}", str(folder), name)


def missing(folder: Path, files: tuple[str, ...], choice: str) -> None:
    if absent := [f for f in files if not (folder / f).exists()]:
        raise DataError(
            f"{choice} files not found: {', '.join(absent)} must be in {folder}. Download them "
            f"with `python train.py data={choice} data.download=true` (needs network), or copy "
            f"them there; paths.data_dir={folder.parent} sets the folder."
        )
