"""Text to token ids, learned from the training split only: a word vocabulary, a character set,
or subwords (BPE or WordPiece, trained with Hugging Face's `tokenizers`). A fitted tokenizer's `state()` is plain data (lists, numbers, flags) so that it travels in
the checkpoint, and `from_state` rebuilds the same encoding for evaluation, prediction and
export. Id 0 pads, id 1 stands for every token the training split did not have."""

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from tunelab.errors import ConfigError

PAD, UNKNOWN = 0, 1
SPECIALS = ["<pad>", "<unk>"]

# Words (letters, digits, underscores) and single punctuation marks: "don't!" -> don ' t !
WORDS = re.compile(r"\w+|[^\w\s]")


class Tokenizer:
    """Shared by the kinds: a vocabulary (specials first), fitting, padding, state."""

    kind = ""

    def __init__(self, max_length: int = 128, lowercase: bool = True) -> None:
        if max_length < 1:
            raise ConfigError(
                f"tokenizer.max_length={max_length}: must be >= 1 (tokens kept per text)"
            )
        self.max_length = max_length
        self.lowercase = lowercase
        self.fitted = False  # fit (or from_state) sets the vocabulary
        self.use_vocabulary(SPECIALS)

    def use_vocabulary(self, tokens: Sequence[str]) -> None:
        """`tokens` in id order (specials first), and the id of each."""
        self.vocabulary = list(tokens)
        self.ids = {token: i for i, token in enumerate(self.vocabulary)}

    def split(self, text: str) -> list[str]:
        raise NotImplementedError

    def tokens(self, text: str) -> list[str]:
        return self.split(text.lower() if self.lowercase else text)

    def keep(self, counts: Counter) -> list[str]:
        """The tokens the vocabulary keeps, in id order."""
        return sorted(counts, key=lambda token: (-counts[token], token))

    def fit(self, texts: Iterable[str]) -> "Tokenizer":
        """Learn the vocabulary from `texts` (the training split's): most frequent first, ties
        in alphabetical order, so the same texts give the same ids."""
        counts = Counter(token for text in texts for token in self.tokens(text))
        self.use_vocabulary([*SPECIALS, *self.keep(counts)])
        self.fitted = True
        return self

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids [len(texts), max_length], int64: each text cut at max_length tokens and
        padded with PAD; a token the vocabulary lacks is UNKNOWN."""
        ids = torch.full((len(texts), self.max_length), PAD, dtype=torch.int64)
        for row, text in enumerate(texts):
            found = [self.ids.get(token, UNKNOWN) for token in self.tokens(text)]
            found = found[: self.max_length]
            if found:
                ids[row, : len(found)] = torch.tensor(found, dtype=torch.int64)
        return ids

    def restore(self, state: dict[str, Any]) -> None:
        """What a kind reads back from its state beyond the vocabulary (from_state)."""

    def state(self) -> dict[str, Any]:
        """What the checkpoint keeps to encode new texts exactly as training did."""
        return {
            "kind": self.kind,
            "vocabulary": list(self.vocabulary),
            "max_length": self.max_length,
            "lowercase": self.lowercase,
        }


class WordTokenizer(Tokenizer):
    """Words and punctuation marks; a word seen fewer than `min_count` times in training, or
    beyond the `max_vocabulary` most frequent, is unknown."""

    kind = "words"

    def __init__(
        self,
        max_length: int = 128,
        lowercase: bool = True,
        min_count: int = 1,
        max_vocabulary: int | None = None,
    ) -> None:
        super().__init__(max_length, lowercase)
        if min_count < 1:
            raise ConfigError(f"tokenizer.min_count={min_count}: must be >= 1")
        self.min_count = min_count
        self.max_vocabulary = max_vocabulary

    def split(self, text: str) -> list[str]:
        return WORDS.findall(text)

    def keep(self, counts: Counter) -> list[str]:
        kept = [t for t in super().keep(counts) if counts[t] >= self.min_count]
        return kept[: self.max_vocabulary] if self.max_vocabulary else kept


class CharTokenizer(Tokenizer):
    """Characters, spaces included: no word is ever unknown, only a character."""

    kind = "chars"

    def split(self, text: str) -> list[str]:
        return list(text)


class SubwordTokenizer(Tokenizer):
    """Subwords learned from the training split by Hugging Face's `tokenizers` (BPE or
    WordPiece, up to `vocab_size` pieces): a word never seen splits into known pieces, so
    little is unknown. Words are split at spaces and punctuation first, as WordTokenizer does."""

    kind = "subword"
    ALGORITHMS = ("bpe", "wordpiece")

    def __init__(
        self,
        max_length: int = 128,
        lowercase: bool = True,
        algorithm: str = "bpe",
        vocab_size: int = 8000,
        min_count: int = 2,
    ) -> None:
        super().__init__(max_length, lowercase)
        if algorithm not in self.ALGORITHMS:
            raise ValueError(
                f"algorithm must be one of {', '.join(self.ALGORITHMS)}, got {algorithm!r}"
            )
        self.algorithm, self.target_size, self.min_count = algorithm, vocab_size, min_count
        self.model: Any = None  # a tokenizers.Tokenizer once fitted

    def split(self, text: str) -> list[str]:
        if self.model is None:
            raise RuntimeError("a subword tokenizer splits text once fitted (fit or from_state)")
        return self.model.encode(text).tokens

    def fit(self, texts: Iterable[str]) -> "Tokenizer":
        from tokenizers import Tokenizer as Model
        from tokenizers import models, pre_tokenizers, trainers

        unknown = SPECIALS[UNKNOWN]
        if self.algorithm == "bpe":
            model = Model(models.BPE(unk_token=unknown))
            trainer: Any = trainers.BpeTrainer
        else:
            model = Model(models.WordPiece(unk_token=unknown))
            trainer = trainers.WordPieceTrainer
        model.pre_tokenizer = pre_tokenizers.Whitespace()  # \w+|[^\w\s]+, as WORDS
        lowered = (text.lower() if self.lowercase else text for text in texts)
        # The specials first, so PAD and UNKNOWN keep ids 0 and 1.
        model.train_from_iterator(
            lowered,
            trainer(
                vocab_size=self.target_size,
                min_frequency=self.min_count,
                special_tokens=SPECIALS,
                show_progress=False,
            ),
        )
        self.model = model
        vocabulary = model.get_vocab()
        self.use_vocabulary(sorted(vocabulary, key=vocabulary.__getitem__))
        self.fitted = True
        return self

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        # The library encodes the whole batch at once (in Rust, on every core); its ids are
        # the vocabulary's (fit orders the vocabulary by them).
        if self.model is None:
            raise RuntimeError("a subword tokenizer encodes text once fitted (fit or from_state)")
        lowered = [text.lower() if self.lowercase else text for text in texts]
        ids = torch.full((len(texts), self.max_length), PAD, dtype=torch.int64)
        for row, encoding in enumerate(self.model.encode_batch(lowered)):
            found = encoding.ids[: self.max_length]
            if found:
                ids[row, : len(found)] = torch.tensor(found, dtype=torch.int64)
        return ids

    def state(self) -> dict[str, Any]:
        # The trained model as its own JSON string (plain data, as a checkpoint loaded with
        # weights_only=True needs); the vocabulary beside it sizes the network.
        return {**super().state(), "model": self.model.to_str()}

    def restore(self, state: dict[str, Any]) -> None:
        from tokenizers import Tokenizer as Model

        self.model = Model.from_str(state["model"])


KINDS: dict[str, type[Tokenizer]] = {
    "words": WordTokenizer,
    "chars": CharTokenizer,
    "subword": SubwordTokenizer,
}


def from_state(state: dict[str, Any]) -> Tokenizer:
    """The fitted tokenizer a checkpoint recorded (Tokenizer.state)."""
    tokenizer = KINDS[state["kind"]](max_length=state["max_length"], lowercase=state["lowercase"])
    tokenizer.use_vocabulary(state["vocabulary"])
    tokenizer.restore(state)
    tokenizer.fitted = True
    return tokenizer
