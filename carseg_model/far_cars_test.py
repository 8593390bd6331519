from pathlib import Path

import numpy as np
from PIL import Image

from carseg_model.datasets import Sample, load_mask
from carseg_model.far_cars import far_car_samples
from carseg_model.image_io import load_image

REPO = Path(__file__).resolve().parent.parent
CAR = REPO / "space" / "examples" / "node-opencv_car1.jpg"
CAR_MASK = REPO / "tests" / "fixtures" / "node-opencv_car1_mask.png"
FRUITS = REPO / "space" / "examples" / "opencv-doc_fruits.jpg"


def test_a_far_copy_holds_the_shrunk_car_in_a_car_free_photo(tmp_path: Path) -> None:
    sample = Sample(CAR, CAR_MASK, "cars", (255,))
    (far,) = far_car_samples([sample], [FRUITS], tmp_path, seed=3)
    assert far.dataset == "cars far (1/4)"
    truth, mask = load_mask(sample), load_mask(far)
    assert mask.shape == truth.shape
    assert abs(mask.sum() - truth.sum() / 16) < 0.02 * truth.sum() / 16  # a sixteenth of the car's area
    scene, car = load_image(far.image_path, 10**8), np.asarray(Image.open(CAR).reduce(4), np.float32)
    rows, columns = np.nonzero(mask)
    top, left = (
        rows.min() - np.argmax(truth[::4, ::4].any(axis=1)),
        columns.min() - np.argmax(truth[::4, ::4].any(axis=0)),
    )
    pasted = scene[top : top + car.shape[0], left : left + car.shape[1]].astype(np.float32)
    assert np.abs(pasted - car).mean() < 6  # the photo at 1/4 size, where the mask says (JPEG's error aside)
    assert far_car_samples([sample], [FRUITS], tmp_path / "again", seed=3)[0].image_path.read_bytes() == (
        far.image_path.read_bytes()
    )  # seeded


def test_photos_without_a_car_have_no_far_copy(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    Image.fromarray(np.zeros((40, 60), np.uint8)).save(empty)
    assert far_car_samples([Sample(CAR, empty, "cars", (255,))], [FRUITS], tmp_path / "far") == []
