"""Text: tokenizers learned from the training split only, and the networks over token ids."""

import pytest
import torch

from tunelab.data.tokenizers import PAD, UNKNOWN, CharTokenizer, WordTokenizer, from_state
from tunelab.models.text import EmbeddingBag, Recurrent, TextCNN, Transformer

TRAIN = ["The film was great, great fun!", "A dull film.", "great cast"]


def test_a_word_seen_only_outside_the_training_split_is_unknown() -> None:
    tokenizer = WordTokenizer(max_length=6).fit(TRAIN)
    ids = tokenizer.encode(["GREAT film, superb"])[0].tolist()
    great, film, comma = (tokenizer.ids[t] for t in ("great", "film", ","))
    assert ids == [great, film, comma, UNKNOWN, PAD, PAD]  # lower-cased, padded; superb unknown
    assert tokenizer.vocabulary[:3] == ["<pad>", "<unk>", "great"]  # most frequent first


def test_min_count_max_vocabulary_and_max_length() -> None:
    rare = WordTokenizer(min_count=2).fit(TRAIN)
    assert set(rare.vocabulary) == {"<pad>", "<unk>", "great", "film"}
    capped = WordTokenizer(max_vocabulary=1).fit(TRAIN)
    assert capped.vocabulary == ["<pad>", "<unk>", "great"]
    cut = WordTokenizer(max_length=2).fit(TRAIN).encode(["great great great"])
    assert cut.shape == (1, 2) and UNKNOWN not in cut.tolist()[0]
    cased = WordTokenizer(lowercase=False).fit(TRAIN)
    assert cased.encode(["The"])[0, 0] != cased.encode(["the"])[0, 0]
    with pytest.raises(ValueError, match="max_length"):
        WordTokenizer(max_length=0)


def test_characters_and_a_fitted_state_read_back_encode_alike() -> None:
    chars = CharTokenizer(max_length=12).fit(TRAIN)
    assert chars.encode(["zz"])[0, :2].tolist() == [UNKNOWN, UNKNOWN]  # no z in training
    for fitted in (chars, WordTokenizer(min_count=2, max_length=5).fit(TRAIN)):
        again = from_state(fitted.state())
        texts = ["A great, DULL film", "", "new words only"]
        assert torch.equal(again.encode(texts), fitted.encode(texts))
        assert again.vocab_size == fitted.vocab_size


def separable(count: int, seed: int = 0) -> tuple[list[str], torch.Tensor]:
    """Short texts of filler words; class 1 hides the word "excellent" somewhere in them."""
    generator = torch.Generator().manual_seed(seed)
    filler = ["the", "a", "movie", "plot", "was", "and", "very", "actors", "scene", "it"]
    texts, labels = [], []
    for i in range(count):
        words = [
            filler[j] for j in torch.randint(len(filler), (int(4 + i % 7),), generator=generator)
        ]
        label = i % 2
        if label:
            words.insert(int(torch.randint(len(words) + 1, (1,), generator=generator)), "excellent")
        texts.append(" ".join(words))
        labels.append(label)
    return texts, torch.tensor(labels)


NETWORKS = {
    "embedding_bag": lambda v: EmbeddingBag((16,), 2, v, embedding_dim=16),
    "gru": lambda v: Recurrent((16,), 2, v, cell="gru", embedding_dim=16, hidden_dim=16),
    "lstm": lambda v: Recurrent(
        (16,), 2, v, cell="lstm", embedding_dim=16, hidden_dim=16, num_layers=2, dropout=0.1
    ),
    "text_cnn": lambda v: TextCNN((16,), 2, v, embedding_dim=16, channels=8),
    "transformer": lambda v: Transformer(
        (16,), 2, v, embedding_dim=16, num_heads=2, num_layers=1, feedforward_dim=32
    ),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_each_network_learns_a_separable_set_and_ignores_padding(name: str) -> None:
    torch.manual_seed(0)
    texts, labels = separable(256)
    tokenizer = WordTokenizer(max_length=16).fit(texts[:192])
    x = tokenizer.encode(texts)
    network = NETWORKS[name](tokenizer.vocab_size)
    optimizer = torch.optim.Adam(network.parameters(), lr=0.02)
    for step in range(60):
        batch = slice((step * 32) % 192, (step * 32) % 192 + 32)
        loss = torch.nn.functional.cross_entropy(network(x[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    network.eval()
    with torch.no_grad():
        accuracy = (network(x[192:]).argmax(1) == labels[192:]).float().mean().item()
        assert accuracy >= 0.9, accuracy  # chance: 0.5
        # more padding, same outputs; an empty text gives finite scores
        wider = torch.cat([x[192:], torch.full((64, 8), PAD)], dim=1)
        if name != "transformer":  # its positions end at max_length
            assert torch.allclose(network(wider), network(x[192:]), atol=1e-5)
        assert torch.isfinite(network(tokenizer.encode([""]))).all()


def fake_library(root, name: str, files: dict[str, str]) -> None:
    for relative, source in files.items():
        path = root / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def test_library_docs_are_public_first_paragraphs_labelled_by_library(tmp_path) -> None:
    import csv

    from tunelab.data.library_docs import write_library_docs
    from tunelab.errors import DataError

    site = tmp_path / "site"
    shared = '''def both():\n    """This exact sentence appears in two libraries."""\n'''
    fake_library(
        site,
        "alpha",
        {
            "__init__.py": '"""Module docstrings are not counted here at all."""\n',
            "core.py": (
                'def add(a, b):\n    """Add two arrays element by element.\n\n    More text.\n    """\n'
                'def _hidden():\n    """A private helper that is left out entirely."""\n'
                'class Frame:\n    """A table of labelled columns\n    on two lines."""\n'
                'def short():\n    """Too short."""\n' + shared
            ),
            "tests/test_core.py": 'def check():\n    """A test helper that is left out too."""\n',
        },
    )
    fake_library(
        site,
        "beta",
        {
            "__init__.py": "",
            "nn.py": 'class Layer:\n    """A layer that maps inputs to outputs."""\n' + shared,
        },
    )
    out = write_library_docs(tmp_path / "docs.csv", ["alpha", "beta"], search_path=[str(site)])
    with open(out, newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted((r["library"], r["text"]) for r in rows) == [
        ("alpha", "A table of labelled columns on two lines."),
        ("alpha", "Add two arrays element by element."),
        ("beta", "A layer that maps inputs to outputs."),
    ]
    again = write_library_docs(tmp_path / "again.csv", ["alpha", "beta"], search_path=[str(site)])
    assert again.read_text() == out.read_text()  # the same sources, the same file
    one = write_library_docs(tmp_path / "one.csv", ["alpha"], 1, search_path=[str(site)])
    assert len(one.read_text().splitlines()) == 2  # the header and one text
    with pytest.raises(DataError, match="'gamma' is not installed"):
        write_library_docs(tmp_path / "x.csv", ["alpha", "gamma"], search_path=[str(site)])


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_recurrent_network_computes_what_packed_sequences_compute(cell: str) -> None:
    from torch.nn.utils.rnn import pack_padded_sequence

    torch.manual_seed(0)
    network = Recurrent((12,), 3, 30, cell=cell, embedding_dim=8, hidden_dim=6, num_layers=2)
    reference = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](
        8, 6, num_layers=2, bidirectional=True, batch_first=True
    )
    for layer in range(2):  # the reference's weights, layer by layer and direction by direction
        for direction, suffix in enumerate(("", "_reverse")):
            own = network.layers[layer][direction]
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(own, f"{name}_l0").data = getattr(
                    reference, f"{name}_l{layer}{suffix}"
                ).data
    x = torch.randint(2, 30, (5, 12))
    for row, length in enumerate([12, 1, 5, 7, 3]):
        x[row, length:] = PAD
    network.eval()
    packed = pack_padded_sequence(network.embedding(x), [12, 1, 5, 7, 3], True, False)
    _, state = reference(packed)
    final = state[0] if cell == "lstm" else state
    expected = network.head(torch.cat([final[-2], final[-1]], dim=-1))
    torch.testing.assert_close(network(x), expected)
