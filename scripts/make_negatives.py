"""Write a dataset of photos WITHOUT cars (images/ + all-zero masks/) for training.

Every training photo of the release data holds a car, so a model trained on them alone marks
"car" on any photo. These negatives come from Debian's opencv-doc package (the OpenCV sample
photos, Apache-2.0 / BSD-3-Clause; see /usr/share/doc/opencv-doc/copyright in the package).
Each was checked by eye and with the VOC DeepLabV3 peer (no car pixels). The photos used as demo
examples (fruits, scenetext01, licenseplate_motion) are left out.

    python scripts/make_negatives.py runs/release_data/opencv_negatives [--deb opencv-doc_*.deb]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLES = "usr/share/doc/opencv-doc/examples"
PHOTOS = """
alphamat/input_images/plant.jpg data/Blender_Suzanne1.jpg data/aloeL.jpg data/apple.jpg data/baboon.jpg
data/board.jpg data/building.jpg data/butterfly.jpg data/ela_original.jpg data/graf1.png data/home.jpg
data/leuvenA.jpg data/leuvenB.jpg data/left.jpg data/messi5.jpg data/orange.jpg data/pca_test1.jpg
data/pic2.png data/rubberwhale1.png data/smarties.png data/squirrel_cls.jpg data/starry_night.jpg
data/stuff.jpg hfs/data/000.jpg hfs/data/002.jpg text/scenetext02.jpg text/scenetext03.jpg
text/scenetext04.jpg data/text_defocus.jpg data/box_in_scene.png data/chicky_512.png
""".split()


def extract_package(deb: Path | None, workdir: Path) -> Path:
    """Unpack opencv-doc (downloaded with apt-get unless a .deb is given); return its root."""
    if deb is None:
        subprocess.run(["apt-get", "download", "opencv-doc"], cwd=workdir, check=True)
        deb = next(workdir.glob("opencv-doc_*.deb"))
    root = workdir / "root"
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="dataset folder to write (images/ + masks/)")
    parser.add_argument("--deb", type=Path, help="an already downloaded opencv-doc .deb")
    args = parser.parse_args()
    (args.output / "images").mkdir(parents=True, exist_ok=True)
    (args.output / "masks").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        root = extract_package(args.deb, Path(workdir)) / EXAMPLES
        for relative in PHOTOS:
            photo = Image.open(root / relative).convert("RGB")
            stem = "opencv_" + relative.replace("/", "_").rsplit(".", 1)[0]
            photo.save(args.output / "images" / f"{stem}.png")
            Image.fromarray(np.zeros((photo.height, photo.width), np.uint8)).save(args.output / "masks" / f"{stem}.png")
    print(f"wrote {len(PHOTOS)} car-free photos to {args.output}")


if __name__ == "__main__":
    main()
