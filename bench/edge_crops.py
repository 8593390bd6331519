"""Before/after crops of cut-out edges at full size, on a contrasting background, for the README.

    python bench/edge_crops.py [--out docs/edges.png]

Each row is one example photo cropped around a stretch of the car's border, at the photo's own
resolution (no scaling): the cut-out as carseg 0.2 made it (the network's output upsampled, hard
edges), then with refined edges (`refine_edges`: guided filter, soft alpha, border colours
estimated), both composited on the same blue.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from carseg_model import CarSegModel  # noqa: E402
from carseg_model.compositing import background_image, blend  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "space" / "examples"
CROPS = {  # photo -> (left, top, right, bottom) of a stretch of border: wheel arch, bumper, mirror
    "node-opencv_car2.jpg": (880, 430, 1400, 820),
    "node-opencv_car1.jpg": (0, 250, 520, 640),
}
BACKGROUND = "#1f5fff"


def hard_cutout_on(model: CarSegModel, photo: Path) -> np.ndarray:
    """The old way: the upsampled mask, hard-edged, pixels as the photo has them."""
    result = model.predict(photo)
    plain = type(result)(result.photo, result.network_probabilities, result.threshold, refine_edges=False)
    back = background_image(BACKGROUND, plain.image)
    return blend(plain.image, back, plain.mask_image())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "edges.png")
    args = parser.parse_args()
    model = CarSegModel.from_pretrained()
    rows = []
    for name, (left, top, right, bottom) in CROPS.items():
        photo = EXAMPLES / name
        refined = model.predict(photo).composite(BACKGROUND)
        before = hard_cutout_on(model, photo)[top:bottom, left:right]
        after = refined[top:bottom, left:right]
        rows.append(np.hstack([before, np.full((before.shape[0], 12, 3), 255, np.uint8), after]))
    width = max(row.shape[1] for row in rows)
    sheet = np.vstack([np.pad(row, ((0, 12), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows])
    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    for x, label in ((8, "before: upsampled, hard edge"), (width // 2 + 14, "after: refined edge, border colours")):
        draw.rectangle((x - 4, 4, x + 7 * len(label), 22), fill=(255, 255, 255))
        draw.text((x, 8), label, fill=(0, 0, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out, optimize=True)
    print(f"wrote {args.out} ({image.width}x{image.height})")


if __name__ == "__main__":
    main()
