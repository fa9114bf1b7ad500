"""Pretrained word vectors for a text network's embedding: a local file in the common text
format (GloVe, or word2vec/fastText's .vec with its "count dimensions" header line), one word and
its numbers per line. Only the training vocabulary's words are kept while reading, so a file of
millions of words costs its read time, not its size in memory.

torchtext's Vectors did this once, but torchtext is no longer maintained (its last release pins
torch 2.3), and gensim would be a large dependency for one loop.
"""

from pathlib import Path
from typing import Any

import torch
from torch import nn

from tunelab.data.tokenizers import PAD
from tunelab.errors import DataError


def read_word_vectors(
    path: Path, vocabulary: list[str], dimensions: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows [len(vocabulary), dimensions] holding the file's vector of each vocabulary word,
    and a mask of the words found. A line whose size differs from `dimensions` stops with
    one line naming the file (model.embedding_dim must match the vectors)."""
    ids = {token: i for i, token in enumerate(vocabulary)}
    rows = torch.zeros(len(vocabulary), dimensions)
    found = torch.zeros(len(vocabulary), dtype=torch.bool)
    with open(path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, 1):
            word, *values = line.rstrip().split(" ")
            if number == 1 and len(values) == 1 and word.isdigit():
                continue  # word2vec's header: how many words, how many dimensions
            if len(values) != dimensions:
                raise DataError(
                    f"{path} line {number}: {len(values)} numbers after the word; the model's "
                    f"embeddings have {dimensions}: set model.embedding_dim={len(values)}"
                )
            row = ids.get(word)
            if row is None or found[row]:
                continue
            try:
                rows[row] = torch.tensor([float(v) for v in values])
            except ValueError:
                raise DataError(
                    f"{path} line {number}: not a word and its numbers: a word vectors file "
                    "holds `word 0.1 -0.2 ...` per line (GloVe or word2vec text format)"
                ) from None
            found[row] = True
    return rows, found


def start_from_word_vectors(
    network: nn.Module, cfg_word_vectors: Any, inputs: dict[str, Any]
) -> dict[str, str]:
    """Copy the file's vectors into the network's token embedding (words the file lacks keep
    their random start; padding stays zero), frozen or fine-tuned. Returns what the run
    records: the file, and the share of the vocabulary it covered. {} when no file is named."""
    path = cfg_word_vectors.get("path")
    if not path:
        return {}
    embedding = getattr(network, "embedding", None)
    if not isinstance(embedding, nn.Embedding) or "tokenizer" not in inputs:
        raise DataError(
            f"word_vectors.path={path}: word vectors start a text network's embedding; "
            "this model has none (text data with model=embedding_bag, gru, lstm, text_cnn or "
            "transformer)"
        )
    vocabulary = inputs["tokenizer"]["vocabulary"]
    rows, found = read_word_vectors(Path(path), vocabulary, embedding.embedding_dim)
    found[PAD] = False
    with torch.no_grad():
        embedding.weight[found] = rows[found]
    embedding.weight.requires_grad_(not cfg_word_vectors.get("freeze", False))
    coverage = float(found.sum()) / max(len(vocabulary) - 2, 1)  # beyond <pad> and <unk>
    return {
        "word_vectors.path": str(path),
        "word_vectors.coverage": f"{coverage:.4f}",
        "word_vectors.found": str(int(found.sum())),
        "word_vectors.frozen": str(bool(cfg_word_vectors.get("freeze", False))).lower(),
    }
