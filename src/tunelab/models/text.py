"""Networks over token ids [N, L] (tunelab.data.tokenizers: 0 pads), sized by the vocabulary the
training split gave (vocab_size) and the outputs. Padding never counts: means and maxima are
masked, recurrent cells stop at the last real token, attention ignores padded positions."""

import torch
from torch import nn

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
    """A GRU or LSTM over the embeddings; the last layer's final states (both directions when
    bidirectional) feed the head.

    Padding never reaches a state, without packed sequences: the forward direction reads each
    text from its first token and its state is taken at the last real one; the backward
    direction reads each text's real tokens reversed in place (padding still at the end). Packed
    sequences compute the same, but neither torch.export nor the ONNX exporter takes them; this
    form exports as plain recurrent ops. One single-layer module per layer and direction, so
    that each layer sees both directions of the one below.
    """

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
        self.directions = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            nn.ModuleList(
                cells[cell](
                    embedding_dim if i == 0 else hidden_dim * self.directions,
                    hidden_dim,
                    batch_first=True,
                )
                for _ in range(self.directions)
            )
            for i in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)  # between layers, and before the head
        self.head = nn.Linear(hidden_dim * self.directions, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lengths = lengths_of(x)
        if not torch.compiler.is_compiling():  # eager: skip the columns every text pads
            x = x[:, : int(lengths.max())]
        reverse = reversal(lengths, x.shape[1])
        hidden = self.embedding(x)
        for i, layer in enumerate(self.layers):
            forward, *backward_cell = list(layer.children())
            if i:
                hidden = self.dropout(hidden)
            outputs = [forward(hidden)[0]]
            if backward_cell:  # reversed in, its outputs reversed back to the tokens
                backward = backward_cell[0](along(hidden, reverse))[0]
                outputs.append(along(backward, reverse))
            hidden = torch.cat(outputs, dim=-1)
        size = hidden.shape[-1] // self.directions
        # forward: the state after the last real token; backward: after the first (position 0)
        last = along(hidden[..., :size], (lengths - 1).unsqueeze(1)).squeeze(1)
        states = [last, hidden[:, 0, size:]] if self.directions == 2 else [last]
        return self.head(self.dropout(torch.cat(states, dim=-1)))


def reversal(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """Per row, the positions that reverse its first `length` tokens and keep the rest: its
    own inverse. [N, width]."""
    # Broadcast, not expanded to len(lengths): an exported graph keeps its batch axis free.
    positions = torch.arange(width, device=lengths.device).unsqueeze(0)
    ends = lengths.unsqueeze(1)
    return torch.where(positions < ends, ends - 1 - positions, positions)


def along(values: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """values[n, positions[n, t]] for [N, T, D] values and [N, T'] positions."""
    return values.gather(1, positions.unsqueeze(-1).expand(-1, -1, values.shape[-1]))


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
