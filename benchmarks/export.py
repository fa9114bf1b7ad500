"""Ship it: every export variant of the default digits CNN and of an MLP, against the targets.

Trains `python train.py` (the default CNN) and `python train.py model=mlp`, runs `python
export.py run_id=...` on each with its default settings, and prints the variant table with the
accuracy change in points against the float model. Targets (issue 18): int8 file at most 0.3x
the float file and at most 0.5 points less accurate; 50 % of the channels removed (slim) with at most 2
fine-tune epochs at most 0.5 points less accurate and faster per batch of 256; ONNX Runtime at
batch 1 no slower than PyTorch eager.

python -m benchmarks.export [--tiny]
"""

import csv
from pathlib import Path

from benchmarks.common import ROOT, report, run, run_id_of, scratch

QUIET = ["print_config=false", "callbacks.progress_bar=null"]
MODELS = {"cnn": [], "mlp": ["model=mlp"]}  # the default config, and the same with an MLP
TARGETED = ["onnx", "int8_dynamic", "int8_static", "slim"]  # the variants the targets name


def export_table(model: list[str], root: Path, tiny: bool) -> list[dict[str, str]]:
    """Train the model, export it, and read back the export's variants.csv."""
    budget = ["trainer.max_epochs=1"] if tiny else []
    _, out = run([str(ROOT / "train.py"), *QUIET, *budget, *model], root)
    run_id = run_id_of(out)
    # The tests' smoke run: the variants the targets name, no fine-tune, brief timings.
    quick = [
        f"export.variants=[{','.join(TARGETED)}]",
        "export.finetune_epochs=0",
        "latency.calls=2",
    ]
    quick = quick if tiny else []
    run([str(ROOT / "export.py"), f"run_id={run_id}", *quick], root)
    (table,) = sorted((root / "outputs" / "export").glob("*/*/variants.csv"))[-1:]
    with open(table) as file:
        return list(csv.DictReader(file))


def rows_of(name: str, table: list[dict[str, str]]) -> list[dict]:
    float_acc = float(table[0]["test_acc"])  # the onnx row: the float model
    return [
        {
            "model": name,
            "variant": row["variant"],
            "KiB": float(row["size_kib"]),
            "x float": float(row["size_ratio"]),
            "non-zero": int(float(row["nonzero"])),
            "test acc": float(row["test_acc"]),
            "points": 100 * (float(row["test_acc"]) - float_acc),
            "b1 ms ORT": float(row["b1_ms_onnxruntime"]),
            "b1 ms torch": float(row["b1_ms_pytorch"]),
            "b256 ms ORT": float(row["b256_ms_onnxruntime"]),
            "b256 ms torch": float(row["b256_ms_pytorch"]),
        }
        for row in table
    ]


def verdicts(rows: list[dict]) -> list[str]:
    """Each target, met or not, with the figures."""
    notes = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = {r["variant"]: r for r in rows if r["model"] == model}
        base = mine["onnx"]
        for name in ("int8_dynamic", "int8_static"):
            row = mine[name]
            met = row["x float"] <= 0.3 and row["points"] >= -0.5
            notes.append(
                f"{model} {name}: {row['x float']:.3f}x the float file, {row['points']:+.2f} points"
                f" -> {'met' if met else 'NOT met'} (<= 0.3x, >= -0.5)"
            )
        row = mine["slim"]
        faster = row["b256 ms ORT"] < base["b256 ms ORT"]
        met = row["points"] >= -0.5 and faster
        notes.append(
            f"{model} slim (50 %): {row['points']:+.2f} points, batch of 256 in "
            f"{row['b256 ms ORT']:.3f} ms against {base['b256 ms ORT']:.3f} -> "
            f"{'met' if met else 'NOT met'} (>= -0.5 points, faster)"
        )
        met = base["b1 ms ORT"] <= base["b1 ms torch"]
        notes.append(
            f"{model} batch 1: ONNX Runtime {base['b1 ms ORT']:.4f} ms, PyTorch eager "
            f"{base['b1 ms torch']:.4f} ms -> {'met' if met else 'NOT met'} (no slower)"
        )
    return notes


def main(tiny: bool) -> None:
    rows = []
    for name, model in MODELS.items():
        if tiny and name != "cnn":  # the tests' smoke run: one model
            continue
        rows += rows_of(name, export_table(model, scratch(), tiny))
    report("export", "export variants of the digits models (test split)", rows, verdicts(rows))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="the CNN only, 1 epoch, no fine-tune")
    main(parser.parse_args().tiny)
