"""The README's picture, book/images/shifted_windows.png: notebook 04's figure of Swin's windows over a photograph
(plot_windows on skimage's astronaut, 8 x 8 tokens, window 4, shift 2), as that notebook draws it,
without its title (the README's caption says what it shows) and the blank margins around it.

Run from the repository's folder after changing the figure: `.venv/bin/python book/images/make_images.py`. The PNG
is reduced to 128 colours so that the README stays light (tests/test_readme.py keeps it under 150 KB).
"""

import io
from pathlib import Path

from PIL import Image
from skimage import data, transform

from minivit.viz import plot_windows

OUT = Path(__file__).with_name("shifted_windows.png")


def main() -> None:
    photo = transform.resize(data.astronaut(), (224, 224), anti_aliasing=True)  # as in notebook 04
    figure = plot_windows(8, 8, 4, 2, image=photo)
    figure.suptitle("")  # the README's caption says what it shows; the panels get the height
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, facecolor="white", bbox_inches="tight", pad_inches=0.05)
    picture = Image.open(buffer).convert("RGB")
    picture.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(OUT, optimize=True)
    print(f"{OUT}: {OUT.stat().st_size / 1000:.0f} KB")


if __name__ == "__main__":
    main()
