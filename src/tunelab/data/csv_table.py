"""A table with a target column: numeric features standardised, categorical ones one-hot."""

from pathlib import Path

import torch

from tunelab.data.labeled import LabeledData
from tunelab.errors import DataError
from tunelab.inputs import encode_table, read_table


def load_csv(
    path: str,
    target: str,
    categorical: list[str] | None = None,
    drop: list[str] | None = None,
    encoding: str = "utf-8",
) -> LabeledData:
    """Features are every column but the target and `drop`; numeric ones are standardised later
    with training-split statistics (the DataModule), `categorical` ones one-hot encoded."""
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise DataError(f"CSV file {file} does not exist: set data.source.path")
    table = read_table(file, "data.source.path", encoding)
    categorical, drop = list(categorical or []), list(drop or [])
    for role, names in (("target", [target]), ("categorical", categorical), ("drop", drop)):
        unknown = [n for n in names if n not in table.columns]
        if unknown:
            raise DataError(
                f"{file}: no column {', '.join(map(repr, unknown))} (data.source.{role}); "
                f"its columns are {', '.join(table.columns)}"
            )
    if (missing := table[target].isna()).any():
        rows = [str(i + 2) for i in missing[missing].index[:3]]  # line numbers, the header is 1
        raise DataError(
            f"{file}: the target column {target!r} is empty in {int(missing.sum())} row(s) "
            f"(line {', '.join(rows)}): fill or drop those rows"
        )
    features = table.drop(columns=[target, *drop])
    numeric = [c for c in features.columns if c not in categorical]
    for column in numeric:
        if not pd.api.types.is_numeric_dtype(features[column]):
            raise DataError(
                f"{file}: column {column!r} is not numeric (e.g. {features[column].iloc[0]!r}): "
                f"add it to data.source.categorical, or to data.source.drop"
            )
    if features[numeric].isna().any().any():
        bad = [c for c in numeric if features[c].isna().any()]
        raise DataError(
            f"{file}: numeric columns with missing values: {', '.join(bad)}; fill or drop them"
        )
    encoded = encode_table(features, categorical)
    labels = sorted(table[target].astype(str).unique())
    y = torch.tensor(table[target].astype(str).map({v: i for i, v in enumerate(labels)}).to_numpy())
    x = torch.tensor(encoded.to_numpy(dtype="float32"))
    standardize = torch.tensor([c in numeric for c in encoded.columns])
    info: dict[str, object] = {
        "file": str(file),
        "target": target,
        "labels": {v: i for i, v in enumerate(labels)},
        "columns": list(encoded.columns),
    }
    raw: dict[str, object] = {
        "kind": "table",
        "features": list(features.columns),
        "categorical": categorical,
        "columns": list(encoded.columns),
    }
    return LabeledData(
        f"csv:{file.stem}", x, y, labels, standardize=standardize, info=info, raw=raw
    )
