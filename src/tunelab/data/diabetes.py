"""scikit-learn's bundled diabetes table: 442 patients, 10 measurements (age, sex, BMI, blood
pressure, six blood serum values), the target a measure of disease progression a year later."""

from tunelab.data.csv_table import table_data
from tunelab.data.labeled import LabeledData


def load_diabetes(task: str = "regression") -> LabeledData:
    """The table unscaled, as measured (the DataModule standardises it with training rows)."""
    from sklearn.datasets import load_diabetes as sklearn_diabetes

    table = sklearn_diabetes(as_frame=True, scaled=False).frame
    return table_data(table, "diabetes", "diabetes", "target", [], [], task)
