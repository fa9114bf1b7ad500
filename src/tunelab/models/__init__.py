"""Networks: plain nn.Modules sized by (input_shape, num_outputs: classes or regression targets), each with a dropout knob; text networks (tunelab.models.text) also by the vocabulary."""

import inspect
from typing import Any

from torch import nn

from tunelab.errors import UserError

TEXT_MODELS = "embedding_bag, gru, lstm, text_cnn or transformer"


def build_network(
    cfg: Any,
    input_shape: tuple[int, ...],
    num_outputs: int,
    dropout: float,
    vocab_size: int | None = None,
) -> nn.Module:
    """Instantiate conf/model's choice, sized from the data: `vocab_size` is a text data set's
    (its tokenizer's vocabulary), None for images and tables."""
    from hydra.utils import get_class

    from tunelab.errors import instantiate

    network = get_class(cfg["_target_"])
    reads_text = "vocab_size" in inspect.signature(network).parameters  # tunelab.models.text
    if reads_text and vocab_size is None:
        raise UserError(
            f"model {network.__name__} reads token ids: it needs text data (data=text_csv, "
            "text_folder, library_docs, ag_news or imdb); for images and tables choose "
            "model=mlp, cnn or resnet18"
        )
    if vocab_size is not None and not reads_text:
        raise UserError(
            f"model {network.__name__} does not read text: for text data choose model={TEXT_MODELS}"
        )
    sizes = {"vocab_size": vocab_size} if reads_text else {}
    return instantiate(
        cfg, input_shape=tuple(input_shape), num_outputs=num_outputs, dropout=dropout, **sizes
    )
