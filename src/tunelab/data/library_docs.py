"""A labelled text set that needs no download: the first paragraph of the docstrings of public
functions and classes in installed libraries' sources, labelled by the library ("which library
documents this?"). Read with `ast`, nothing imported; requirements.lock fixes the versions, so
the same lock gives the same texts. Written once as a CSV (text, library) for the text sources."""

import ast
import csv
import random
from collections.abc import Iterator, Sequence
from importlib.machinery import PathFinder
from pathlib import Path

from tunelab.errors import DataError

# Five libraries the project installs, each with at least a thousand such texts.
LIBRARIES = ("numpy", "pandas", "sklearn", "torch", "matplotlib")


def package_folders(name: str, search_path: Sequence[str] | None = None) -> list[Path]:
    """Where an installed package's sources are, found without importing it."""
    spec = PathFinder.find_spec(name, list(search_path) if search_path else None)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"library {name!r} is not installed here: pick others in libraries=[...]")
    return [Path(folder) for folder in spec.submodule_search_locations]


def first_paragraphs(folder: Path, min_words: int = 5) -> Iterator[str]:
    """The first paragraph of each public function's and class's docstring under `folder`, on
    one line; test modules and private names left out, as are paragraphs under `min_words`."""
    for path in sorted(folder.rglob("*.py")):
        if "tests" in path.parts or path.name.startswith("test"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue  # a template or a file for another Python: not documentation
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            doc = ast.get_docstring(node)
            if node.name.startswith("_") or not doc:
                continue
            paragraph = " ".join(doc.strip().split("\n\n")[0].split())
            if len(paragraph.split()) >= min_words:
                yield paragraph


def write_library_docs(
    csv_path: Path,
    libraries: Sequence[str] = LIBRARIES,
    per_library: int = 1000,
    seed: int = 0,
    search_path: Sequence[str] | None = None,
) -> Path:
    """Write `per_library` texts of each library (fewer where it has fewer), drawn with `seed`
    from its distinct paragraphs; a paragraph found in two libraries is left out (its label
    would be a coin toss). Columns: text, library."""
    found = {
        name: {p for folder in package_folders(name, search_path) for p in first_paragraphs(folder)}
        for name in libraries
    }
    shared = {p for a in found for b in found if a < b for p in found[a] & found[b]}
    draw = random.Random(seed)
    rows = []
    for name in libraries:
        texts = sorted(found[name] - shared)  # sorted first: the draw depends on the seed alone
        rows += [(text, name) for text in draw.sample(texts, min(per_library, len(texts)))]
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "library"])
        writer.writerows(rows)
    return csv_path
