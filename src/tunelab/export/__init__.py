"""`python export.py`: a trained model exported (ONNX, exported programs), quantized to int8,
sparsified or slimmed, fine-tuned, and measured; the pipeline is tunelab.export.pipeline.

This module imports nothing: the config checks read its names before torch loads.
"""

# What export.py can make (tunelab.export.variants, in this order); conf/export.yaml makes all.
VARIANTS = ("onnx", "pt2", "int8_dynamic", "int8_static", "sparse", "slim")

# Names export.py took before weight removal stopped being called pruning (a word that means
# stopping a weak trial in tunelab): what to type now.
RENAMED = {
    "pruned": "sparse",
    "channels": "slim",
    "prune.sparsity": "sparse.fraction",
    "prune.channels": "slim.fraction",
}


def renamed_error(args: list[str]) -> str | None:
    """An old key on the command line (prune.sparsity=0.5): its new name, in one line."""
    for arg in args:
        key = arg.lstrip("+~").partition("=")[0]
        if key in RENAMED:
            return f"{key} is now {RENAMED[key]}: write {arg.replace(key, RENAMED[key], 1)}"
    return None
