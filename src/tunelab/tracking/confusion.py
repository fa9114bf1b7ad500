"""The confusion matrix as a PNG: a grid of counts, shaded by count, each written in its cell.

Drawn with Pillow, not matplotlib like tunelab's other plots (tunelab.tracking.plots): every
trial of a sweep logs one, and matplotlib's text layout took 0.43 s of CPU per matrix here (a
hundred cell labels under a constrained layout; measured), the largest cost a trial left to the
MLflow writer, where Pillow takes a few hundredths of a second. A grid of numbers needs no axes
machinery; the font (DejaVu Sans, from matplotlib's data) and the Blues shades are the plots'.
"""

import functools
import importlib.util
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

# matplotlib's "Blues" (ColorBrewer, 9 classes), light to dark: a cell's shade by its count.
BLUES = [
    (247, 251, 255),
    (222, 235, 247),
    (198, 219, 239),
    (158, 202, 225),
    (107, 174, 214),
    (66, 146, 198),
    (33, 113, 181),
    (8, 81, 156),
    (8, 48, 107),
]
GRID_PX = 900  # the grid's side for a few classes; a cell is at least MIN_CELL_PX
MIN_CELL_PX = 36
MARGIN_PX = 70


@functools.cache
def font(size: int) -> Any:
    """DejaVu Sans (the plots' font, shipped with matplotlib) at `size` px; Pillow's own
    font where matplotlib is not installed."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin is not None:
        dejavu = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if dejavu.exists():
            return ImageFont.truetype(str(dejavu), size)
    return ImageFont.load_default(size)


def shade(fraction: float) -> tuple[int, int, int]:
    """The Blues colour at `fraction` (0: lightest, 1: darkest), interpolated."""
    position = min(max(fraction, 0.0), 1.0) * (len(BLUES) - 1)
    low = int(position)
    high = min(low + 1, len(BLUES) - 1)
    part = position - low
    (r0, g0, b0), (r1, g1, b1) = BLUES[low], BLUES[high]
    return round(r0 + (r1 - r0) * part), round(g0 + (g1 - g0) * part), round(b0 + (b1 - b0) * part)


def turned(text: str, size: int, angle: int) -> Image.Image:
    """`text` on a transparent tile, turned `angle` degrees counter-clockwise."""
    width = int(font(size).getlength(text)) + 4
    tile = Image.new("RGBA", (width, size + 10), (255, 255, 255, 0))
    ImageDraw.Draw(tile).text((width, (size + 10) // 2), text, "black", font(size), anchor="rm")
    return tile.rotate(angle, expand=True)


def confusion_matrix_image(counts: Any, classes: list[str], path: Path) -> Path:
    """counts[true class][predicted class] as `path` (a PNG at least 1,000 px wide)."""
    n = len(classes)
    cell = max(MIN_CELL_PX, GRID_PX // n)
    label_size, number_size = 20, max(11, min(28, cell // 3))
    widest = max(font(label_size).getlength(name) for name in classes)
    slanted = widest > cell * 0.8  # x labels that would overlap are written at 45 degrees
    left = int(widest) + MARGIN_PX
    bottom = (int(widest * 0.75) if slanted else label_size) + MARGIN_PX + 20
    width, height = left + n * cell + 40, MARGIN_PX + n * cell + bottom
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    most = max(1, max(int(v) for row in counts for v in row))
    for true in range(n):
        for predicted in range(n):
            value = int(counts[true][predicted])
            x, y = left + predicted * cell, MARGIN_PX + true * cell
            draw.rectangle([x, y, x + cell, y + cell], fill=shade(value / most))
            colour = "white" if value > most / 2 else "black"
            centre = (x + cell / 2, y + cell / 2)
            draw.text(centre, str(value), colour, font(number_size), anchor="mm")
    grid_bottom = MARGIN_PX + n * cell
    for i, name in enumerate(classes):
        middle = MARGIN_PX + i * cell + cell / 2
        draw.text((left - 8, middle), name, "black", font(label_size), anchor="rm")
        centre_x = left + i * cell + cell / 2
        if slanted:
            tile = turned(name, label_size, 45)
            image.paste(tile, (int(centre_x - tile.width + 10), grid_bottom + 6), tile)
        else:
            draw.text((centre_x, grid_bottom + 8), name, "black", font(label_size), anchor="mt")
    middle_x = left + n * cell / 2
    draw.text((middle_x, MARGIN_PX / 2), "confusion matrix (test)", "black", font(24), anchor="mm")
    draw.text((middle_x, height - 24), "predicted", "black", font(label_size), anchor="mm")
    true_label = turned("true", label_size, 90)
    image.paste(true_label, (12, int(MARGIN_PX + n * cell / 2 - true_label.height / 2)), true_label)
    image.save(path)
    return path
