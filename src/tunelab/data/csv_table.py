"""A table with a target column: numeric features standardised, categorical ones one-hot; the
target is class labels (task=classification) or numbers to predict (task=regression)."""

from pathlib import Path
from typing import Any

import torch

from tunelab.data.inputs import encode_table, read_table
from tunelab.data.labeled import LabeledData
from tunelab.errors import DataError

# A numeric target column with more distinct values than this, some of them fractions or more
# than one per ten rows, holds numbers to predict, not class labels.
MAX_NUMERIC_CLASSES = 20


def load_csv(
    path: str,
    target: str | list[str],
    categorical: list[str] | None = None,
    drop: list[str] | None = None,
    encoding: str = "utf-8",
    task: str = "classification",
) -> LabeledData:
    """Features are every column but the target(s) and `drop`; numeric ones are standardised
    later with training-split statistics (the DataModule), `categorical` ones one-hot encoded."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"CSV file {file} does not exist: set data.source.path")
    table = read_table(file, "data.source.path", encoding)
    return table_data(table, f"csv:{file.stem}", str(file), target, categorical, drop, task)


def table_data(
    table: Any,
    name: str,
    where: str,
    target: str | list[str],
    categorical: list[str] | None,
    drop: list[str] | None,
    task: str,
) -> LabeledData:
    """A pandas DataFrame as a LabeledData: `where` names it in errors (the file)."""
    import pandas as pd

    targets = [target] if isinstance(target, str) else list(target)
    categorical, drop = list(categorical or []), list(drop or [])
    check_columns(table, where, {"target": targets, "categorical": categorical, "drop": drop})
    check_targets(table, targets, where, task)
    features = table.drop(columns=[*targets, *drop])
    numeric = [c for c in features.columns if c not in categorical]
    for column in numeric:
        if not pd.api.types.is_numeric_dtype(features[column]):
            raise DataError(
                f"{where}: column {column!r} is not numeric (e.g. {features[column].iloc[0]!r}): "
                f"add it to data.source.categorical, or to data.source.drop"
            )
    if features[numeric].isna().any().any():
        bad = [c for c in numeric if features[c].isna().any()]
        raise DataError(
            f"{where}: numeric columns with missing values: {', '.join(bad)}; fill or drop them"
        )
    encoded = encode_table(features, categorical)
    x = torch.tensor(encoded.to_numpy(dtype="float32"))
    standardize = torch.tensor([c in numeric for c in encoded.columns])
    info: dict[str, object] = {"file": where, "target": target, "columns": list(encoded.columns)}
    raw: dict[str, object] = {
        "kind": "table",
        "features": list(features.columns),
        "categorical": categorical,
        "columns": list(encoded.columns),
    }
    y, classes = target_tensor(table, targets, task)
    if classes:
        info["labels"] = {v: i for i, v in enumerate(classes)}
    return LabeledData(
        name,
        x,
        y,
        classes,
        standardize=standardize,
        info=info,
        raw=raw,
        targets=targets if task == "regression" else [],
    )


def target_tensor(table: Any, targets: list[str], task: str) -> tuple[torch.Tensor, list[str]]:
    """The target column(s) as y, and the class names: regression, float32 [N, targets] and
    none; classification, the index of each row's label among the sorted labels."""
    if task == "regression":
        return torch.tensor(table[targets].to_numpy(dtype="float32")), []
    labels = sorted(table[targets[0]].astype(str).unique())
    mapping = {v: i for i, v in enumerate(labels)}
    return torch.tensor(table[targets[0]].astype(str).map(mapping).to_numpy()), labels


def check_columns(table: Any, where: str, roles: dict[str, list[str]]) -> None:
    """Every column named for a role (data.source.<role>) is in the table."""
    for role, names in roles.items():
        unknown = [n for n in names if n not in table.columns]
        if unknown:
            raise DataError(
                f"{where}: no column {', '.join(map(repr, unknown))} (data.source.{role}); "
                f"its columns are {', '.join(table.columns)}"
            )


def check_targets(table: Any, targets: list[str], where: str, task: str) -> None:
    """The target columns the task can learn: one for a classifier, each as check_target."""
    if task == "classification" and len(targets) != 1:
        raise DataError(
            f"data.source.target={targets}: a classifier predicts one column; several targets "
            "are for task=regression"
        )
    for column in targets:
        check_target(table[column], where, task)


def check_target(column: Any, where: str, task: str) -> None:
    """A target column the task can learn: filled; numbers for regression; for classification,
    not a numeric column whose values are measurements (that asks for task=regression)."""
    import numpy as np
    import pandas as pd

    if (missing := column.isna()).any():
        rows = [str(i + 2) for i in missing[missing].index[:3]]  # line numbers, the header is 1
        raise DataError(
            f"{where}: the target column {column.name!r} is empty in {int(missing.sum())} row(s) "
            f"(line {', '.join(rows)}): fill or drop those rows"
        )
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if task == "regression":
        if not numeric:
            sample = next((v for v in column if not is_number(v)), column.iloc[0])  # or a bool
            raise DataError(
                f"{where}: the target column {column.name!r} is not numeric (e.g. {sample!r}): "
                "task=regression predicts numbers; clean the column, or use task=classification "
                "for class labels"
            )
        if not np.isfinite(column.to_numpy(dtype="float64")).all():
            raise DataError(
                f"{where}: the target column {column.name!r} holds inf: drop those rows"
            )
        return
    distinct = column.nunique()
    fractions = numeric and bool((column % 1 != 0).any())
    if numeric and distinct > MAX_NUMERIC_CLASSES and (fractions or distinct > len(column) / 10):
        raise DataError(
            f"{where}: the target column {column.name!r} holds {distinct} distinct numbers "
            f"(e.g. {column.iloc[0]}): to predict the number, add task=regression; a "
            "classifier would learn each value as a class"
        )


def is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
