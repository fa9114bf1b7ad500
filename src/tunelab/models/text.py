"""Networks over token ids [N, L] (tunelab.data.tokenizers: 0 pads), sized by the vocabulary the
training split gave (vocab_size) and the outputs. Padding never counts: means and maxima are
masked, recurrent cells run on packed sequences, attention ignores padded positions."""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from tunelab.data.tokenizers import PAD


def lengths_of(x: torch.Tensor) -> torch.Tensor:
    """Each row's count of real tokens; at least 1, so an empty text is one padding token."""
    return (x != PAD).sum(dim=1).clamp(min=1)


def masked_mean(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The mean over the real tokens of [N, L, D] values (an empty text: zeros)."""
    mask = (x != PAD).unsqueeze(-1).to(values.dtype)
    return (values * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


class EmbeddingBag(nn.Module):
    """The mean of the tokens' embeddings, then one linear layer (fastText's classifier)."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_outputs: int,
        vocab_size: int,
        embedding_dim: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The mean written out rather than nn.EmbeddingBag: the same op a padding mask and the
        # transformer use, and plain gather/sum/divide for export.
        return self.head(self.dropout(masked_mean(self.embedding(x), x)))


class Recurrent(nn.Module):
    """A GRU or LSTM over the embeddings; the last layer's final state (both directions when
    bidirectional) feeds the head."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_outputs: int,
        vocab_size: int,
        cell: str = "gru",
        embedding_dim: int = 64,
        hidden_dim: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        cells = {"gru": nn.GRU, "lstm": nn.LSTM}
        if cell not in cells:
            raise ValueError(f"cell must be one of {sorted(cells)}, got {cell!r}")
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.rnn = cells[cell](
            embedding_dim,
            hidden_dim,
            num_layers=num_layers,
            bidirectional=bidirectional,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,  # between layers only
        )
        self.directions = 2 if bidirectional else 1
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_dim * self.directions, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(
            self.embedding(x), lengths_of(x).cpu(), batch_first=True, enforce_sorted=False
        )
        _, state = self.rnn(packed)
        final = state[0] if isinstance(state, tuple) else state  # an LSTM's (h, c): h
        # [layers * directions, N, hidden]: the last layer's directions, side by side
        last = final[-self.directions :].transpose(0, 1).reshape(len(x), -1)
        return self.head(self.dropout(last))


class TextCNN(nn.Module):
    """1-D convolutions of several widths over the embeddings, each max-pooled over the real
    tokens (Kim, 2014)."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_outputs: int,
        vocab_size: int,
        embedding_dim: int = 64,
        channels: int = 64,
        kernel_sizes: tuple[int, ...] = (3, 4, 5),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.convs = nn.ModuleList(
            nn.Conv1d(embedding_dim, channels, k, padding=k - 1) for k in kernel_sizes
        )
        self.kernel_sizes = tuple(kernel_sizes)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels * len(kernel_sizes), num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embedded = self.embedding(x).transpose(1, 2)  # [N, D, L]
        real = lengths_of(x)
        pooled = []
        for conv, size in zip(self.convs, self.kernel_sizes, strict=True):
            features = torch.relu(conv(embedded))  # [N, C, L + k - 1]
            # a window is real when it overlaps a real token: positions < length + k - 1
            width = features.shape[-1]
            reach = real.unsqueeze(1) + (size - 1)
            mask = torch.arange(width, device=x.device).unsqueeze(0) < reach
            features = features.masked_fill(~mask.unsqueeze(1), float("-inf"))
            pooled.append(features.amax(dim=-1))
        return self.head(self.dropout(torch.cat(pooled, dim=1)))


class Transformer(nn.Module):
    """A small transformer encoder: token and learned position embeddings, padded positions
    masked out of attention, the mean of the real tokens' outputs to the head."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_outputs: int,
        vocab_size: int,
        embedding_dim: int = 64,
        num_heads: int = 4,
        num_layers: int = 2,
        feedforward_dim: int = 128,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        (max_length,) = input_shape
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.position = nn.Embedding(max_length, embedding_dim)
        layer = nn.TransformerEncoderLayer(
            embedding_dim, num_heads, feedforward_dim, dropout, batch_first=True
        )
        # enable_nested_tensor off: the nested fast path drops padded rows, which masked_mean
        # below must see as zeros of the right shape.
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(x.shape[1], device=x.device)
        hidden = self.embedding(x) + self.position(positions)
        padded = x == PAD
        padded[:, 0] = False  # an empty text attends to its first pad, not to nothing (NaN)
        encoded = self.encoder(hidden, src_key_padding_mask=padded)
        return self.head(self.dropout(masked_mean(encoded, x)))
