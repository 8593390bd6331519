"""Training and evaluation data: find photo/mask pairs, split them by group, decode them into memory.

Two folder layouts are read:

* Kaggle Carvana: ``train/<id>_<NN>.jpg`` + ``train_masks/<id>_<NN>_mask.gif``;
* generic: ``images/<name>.<ext>`` + ``masks/<name>[_mask].<ext>`` (jpg, jpeg, png, gif, webp, bmp).

`dataset_sources` turns the command line's ``--data`` / ``--car-values`` / ``--data-license``
lists into `DatasetSource` objects. Every pair is checked (both files present, both open with
PIL, same size) before training starts, so bad files give one `DatasetError` listing them
instead of a crash deep inside training. `find_split` holds out whole groups (a car, a scene)
for validation; `load_cache` decodes the photos at the network input size (`SampleCache`).

No TensorFlow here: the tf.data pipeline is `carseg_model.training.pipeline`.
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from carseg_model.config import CarSegConfig
from carseg_model.image_io import IMAGE_SUFFIXES, load_image
from carseg_model.preprocessing import resize_image

logger = logging.getLogger(__name__)

MASK_SUFFIX = "_mask"
LAYOUTS = {"carvana": ("train", "train_masks"), "images+masks": ("images", "masks")}
"""Layout name -> (photo folder, mask folder) inside a dataset folder."""

CAMVID_FRAMES_PER_GROUP = 300
"""CamVid frames in one split group: 10 s of 30 fps video, so neighbouring frames stay together."""
PROBLEMS_SHOWN = 20

_CARVANA_NAME = re.compile(r"(?P<car>[0-9a-f]{12})_\d{2}")
_CAMVID_NAME = re.compile(r"(?P<sequence>\d{4}[A-Z0-9]{2}|Seq\d{2}VD)_f?(?P<frame>\d+)")
_ROBOFLOW_NAME = re.compile(r"(?P<source>.+)\.rf\.[0-9a-f]+")

KNOWN_LICENSES = {
    "roboflow_car_seg": "CC BY 4.0",
    "camvid_cars": "CC BY-NC 4.0 (non-commercial)",
    "dsmlr_carparts": "research use with citation (Pasupa et al. 2021)",
    "carvana_thumbs": "Kaggle competition data (research use)",
}
"""Licences of the dataset folders shipped in the project's shared data, by folder name."""


class DatasetError(ValueError):
    """Training data that cannot be used: missing folders, unpaired or unreadable files."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class DatasetSource:
    """One dataset folder and which mask values mean "car" in it.

    ``car_values`` of ``None`` means any non-zero mask value is car.
    """

    root: Path
    car_values: tuple[int, ...] | None = None
    license: str = "unknown"

    @property
    def name(self) -> str:
        """The folder name, used to report per-dataset figures."""
        return Path(self.root).resolve().name


class GroupKey(NamedTuple):
    """What keeps photos together in the train/validation split.

    ``group`` never straddles the split (one car, one scene); ``stratum`` is split
    separately so each stratum (a CamVid sequence) appears on both sides.
    """

    stratum: str
    group: str


@dataclass(frozen=True)
class Sample:
    """One photo and its mask."""

    image_path: Path
    mask_path: Path
    dataset: str
    car_values: tuple[int, ...] | None

    @property
    def group(self) -> GroupKey:
        """The split group of this photo (see `group_key`)."""
        return group_key(self.image_path.stem)


def parse_car_values(text: str | Sequence[int] | None) -> tuple[int, ...] | None:
    """``"7,8"`` -> ``(7, 8)``; ``"any"`` or ``None`` -> ``None`` (any non-zero value); numbers pass through."""
    if text is None:
        return None
    if not isinstance(text, str):
        return tuple(int(value) for value in text)
    if text.strip().lower() == "any":
        return None
    try:
        return tuple(int(value) for value in text.split(","))
    except ValueError:
        raise ValueError(f"car values must be integers like 8 or 7,8 (or 'any'); got {text!r}") from None


def dataset_sources(
    folders: Sequence[str | os.PathLike],
    car_values: Sequence[str | Sequence[int] | None] | None = None,
    licenses: Sequence[str] | None = None,
    *,
    option: str = "--data",
) -> list[DatasetSource]:
    """Pair dataset folders with their car values and licences, each list in the same order or not given.

    ``car_values`` items are texts such as ``"8"``, ``"7,8"`` or ``"any"`` (see `parse_car_values`) or parsed values.
    A missing licence is the known one of a shared dataset folder (`KNOWN_LICENSES`), else
    ``"unknown"``. A list that does not pair up with ``folders`` raises `DatasetError`, naming
    the command-line options (``option`` is the folders' option: ``--data`` or ``--val-data``).
    """
    folders = list(folders)
    paired_options = ((car_values, f"{option.removesuffix('data')}car-values"), (licenses, f"{option}-license"))
    for given, name in paired_options:
        if given and len(given) != len(folders):
            raise DatasetError(f"give one {name} per {option} ({len(folders)}), or none; got {len(given)}")
    sources = []
    for index, folder in enumerate(folders):
        root = Path(folder).expanduser()
        license = licenses[index] if licenses else KNOWN_LICENSES.get(root.resolve().name, "unknown")
        sources.append(DatasetSource(root, parse_car_values(car_values[index] if car_values else None), license))
    return sources


# ---------------------------------------------------------------------------- discovery
def detect_layout(root: Path) -> tuple[str, Path, Path]:
    """Return ``(layout name, photo folder, mask folder)`` of a dataset folder."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    for layout, (image_folder, mask_folder) in LAYOUTS.items():
        if (root / image_folder).is_dir() and (root / mask_folder).is_dir():
            return layout, root / image_folder, root / mask_folder
    expected = " or ".join(f"{images}/ + {masks}/" for images, masks in LAYOUTS.values())
    raise DatasetError(f"{root} has no {expected} folders; point --data at a folder that holds them")


def find_samples(source: DatasetSource, skip_bad: bool = False) -> tuple[list[Sample], list[str]]:
    """Pair the photos and masks of one dataset folder and check that every file opens.

    Returns ``(samples, skipped problems)``. Unpaired or unreadable files raise one
    `DatasetError` listing them, or with ``skip_bad`` are logged and left out.
    """
    layout, image_folder, mask_folder = detect_layout(source.root)
    images, problems = _files_by_key(image_folder, strip_suffix="")
    masks, mask_problems = _files_by_key(mask_folder, strip_suffix=MASK_SUFFIX)
    problems += mask_problems
    problems += [f"{images[key]}: no mask in {mask_folder}" for key in sorted(images.keys() - masks.keys())]
    problems += [f"{masks[key]}: no photo in {image_folder}" for key in sorted(masks.keys() - images.keys())]
    samples = []
    for key in sorted(images.keys() & masks.keys()):
        file_problems = [p for p in (_header_problem(images[key]), _header_problem(masks[key])) if p]
        if file_problems:
            problems += file_problems
        else:
            samples.append(Sample(images[key], masks[key], source.name, source.car_values))
    report_problems(problems, f"dataset {source.root}", skip_bad)
    if not samples:
        raise DatasetError(f"{source.root} ({layout} layout) has no usable photo/mask pairs")
    logger.info("%s: %d pairs (%s layout)", source.root, len(samples), layout)
    return samples, problems


def _files_by_key(folder: Path, strip_suffix: str) -> tuple[dict[str, Path], list[str]]:
    """Image files of ``folder`` by stem (minus ``strip_suffix``), and problems with duplicates."""
    files: dict[str, Path] = {}
    problems = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        key = path.stem.removesuffix(strip_suffix) if strip_suffix else path.stem
        if key in files:
            problems.append(f"{path}: same name as {files[key].name}; keep one of them")
            continue
        files[key] = path
    return files, problems


def _header_problem(path: Path) -> str | None:
    """``None`` if PIL can open the file's header, else what is wrong with it."""
    try:
        Image.open(path).close()  # parses the header only
    except Exception as error:  # PIL raises many types for broken files
        return f"{path}: cannot be opened as an image ({type(error).__name__}: {error})"
    return None


def report_problems(problems: Sequence[str], where: str, skip_bad: bool) -> None:
    """Raise one `DatasetError` listing ``problems``, or with ``skip_bad`` log them."""
    if not problems:
        return
    shown = "\n".join(f"  - {problem}" for problem in problems[:PROBLEMS_SHOWN])
    more = f"\n  ... and {len(problems) - PROBLEMS_SHOWN} more" if len(problems) > PROBLEMS_SHOWN else ""
    summary = f"{len(problems)} bad photo/mask file(s) in {where}:\n{shown}{more}"
    if skip_bad:
        logger.warning("%s\nSkipping them (skip_bad).", summary)
        return
    raise DatasetError(
        f"{summary}\nFix or remove these files, or pass --skip-bad (skip_bad=True) to leave them out.", problems
    )


# ---------------------------------------------------------------------------- splitting
def group_key(stem: str) -> GroupKey:
    """The split group of a photo, from its file name.

    * Carvana ``<car id>_<NN>``: the car id (all views of a car together);
    * CamVid ``<sequence>_<frame>``: the sequence and a block of `CAMVID_FRAMES_PER_GROUP`
      frames, split per sequence;
    * Roboflow exports ``<name>_png.rf.<hash>``: the source name (its augmented copies together);
    * anything else: the stem itself.
    """
    if match := _CARVANA_NAME.fullmatch(stem):
        return GroupKey("", match["car"])
    if match := _CAMVID_NAME.fullmatch(stem):
        block = int(match["frame"]) // CAMVID_FRAMES_PER_GROUP
        return GroupKey(match["sequence"], f"{match['sequence']}/{block}")
    if match := _ROBOFLOW_NAME.fullmatch(stem):
        return GroupKey("", match["source"])
    return GroupKey("", stem)


def split_by_group(samples: Sequence[Sample], val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Split into ``(train, validation)``: ``val_fraction`` of the groups of each dataset and stratum.

    The same seed always gives the same split; a group is never on both sides.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"the validation fraction must be in [0, 1); got {val_fraction}")
    groups_by_stratum: dict[tuple[str, str], set[str]] = defaultdict(set)
    for sample in samples:
        groups_by_stratum[sample.dataset, sample.group.stratum].add(sample.group.group)
    val_groups: set[tuple[str, str]] = set()
    for (dataset, stratum), groups in sorted(groups_by_stratum.items()):
        ordered = sorted(groups)
        random.Random(f"{seed}/{dataset}/{stratum}").shuffle(ordered)
        count = round(val_fraction * len(ordered))
        if val_fraction > 0 and len(ordered) > 1:
            count = min(max(count, 1), len(ordered) - 1)
        val_groups.update((dataset, group) for group in ordered[:count])
    train = [s for s in samples if (s.dataset, s.group.group) not in val_groups]
    val = [s for s in samples if (s.dataset, s.group.group) in val_groups]
    return train, val


@dataclass(frozen=True)
class Split:
    """The training and validation photos of a run, and how they were chosen (for the model card)."""

    train: list[Sample]
    val: list[Sample]
    description: str


def find_split(
    train_sources: Sequence[DatasetSource],
    val_sources: Sequence[DatasetSource],
    val_fraction: float,
    seed: int,
    skip_bad: bool = False,
) -> Split:
    """Find the photos of a run: ``val_sources`` for validation if given, else a `split_by_group` of the rest."""
    train = find_all(train_sources, skip_bad)
    if val_sources:
        val = find_all(val_sources, skip_bad)
        description = "the separate validation dataset(s) " + ", ".join(sorted({s.dataset for s in val}))
    else:
        train, val = split_by_group(train, val_fraction, seed)
        description = (
            f"a validation split of {val_fraction:.0%} of each dataset's groups (seed {seed}); a group is a "
            "Carvana car, a 10 s block of a CamVid sequence or a Roboflow source photo, so no car or scene "
            "is in both splits"
        )
    for samples, name in ((train, "training"), (val, "validation")):
        if not samples:
            raise DatasetError(
                f"the {name} set is empty: the data has too few groups to split; add data or pass --val-data"
            )
    return Split(train, val, description)


def find_all(sources: Sequence[DatasetSource], skip_bad: bool = False) -> list[Sample]:
    """The samples of every source, in order (see `find_samples`)."""
    return [sample for source in sources for sample in find_samples(source, skip_bad)[0]]


def every_nth(samples: Sequence[Sample], every: Mapping[str, int]) -> list[Sample]:
    """Every ``every[dataset]``-th sample of each dataset named (``--data-every``), in order; others all."""
    seen: Counter[str] = Counter()
    kept = []
    for sample in samples:
        if seen[sample.dataset] % every.get(sample.dataset, 1) == 0:
            kept.append(sample)
        seen[sample.dataset] += 1
    return kept


def count_by_dataset(samples: Sequence[Sample]) -> dict[str, int]:
    """Photos per dataset name."""
    return dict(Counter(sample.dataset for sample in samples))


# ---------------------------------------------------------------------------- decoding
def load_mask(sample: Sample) -> np.ndarray:
    """The car mask of ``sample`` at its original size, ``(H, W)`` bool.

    Mask files hold label values (palette indices for palette images): ``sample.car_values``
    are car, or any non-zero value when it is ``None``.
    """
    with Image.open(sample.mask_path) as image:
        image.seek(0)
        labels = np.asarray(image.getchannel(0) if image.mode in ("LA", "PA") else image)  # drop alpha
    if labels.ndim == 3:
        if not (labels[..., :1] == labels[..., 1:3]).all():
            raise DatasetError(f"{sample.mask_path} is a colour image; masks must hold label values (grey or palette)")
        labels = labels[..., 0]
    if sample.car_values is None:
        return labels != 0
    return np.isin(labels, sample.car_values)


def load_training_pair(sample: Sample, config: CarSegConfig) -> tuple[np.ndarray, np.ndarray]:
    """Photo and mask at the network input size, exactly as `CarSegModel.predict` resizes photos.

    Returns ``(H, W, 3)`` uint8 RGB and ``(H, W)`` uint8 0/1 (the mask is resized like the
    photo, then cut at 0.5, so it stays binary and lines up with the photo).
    """
    image = load_image(sample.image_path, config.max_pixels)
    mask = load_mask(sample)
    if image.shape[:2] != mask.shape:
        raise DatasetError(
            f"{sample.image_path} is {image.shape[1]}x{image.shape[0]} but its mask {sample.mask_path.name} "
            f"is {mask.shape[1]}x{mask.shape[0]}"
        )
    image = resize_image(image, config.input_size, config.resize_method)
    mask = resize_image(mask.astype(np.float32), config.input_size, config.resize_method) >= 0.5
    return image, mask.astype(np.uint8)


@dataclass(frozen=True)
class SampleCache:
    """Decoded samples at the network input size: the pipeline's cache, before augmentation."""

    samples: list[Sample]
    images: np.ndarray  # (N, H, W, 3) uint8
    masks: np.ndarray  # (N, H, W) uint8, 0 or 1

    def __len__(self) -> int:
        return len(self.samples)


def load_cache(
    samples: Sequence[Sample], config: CarSegConfig, skip_bad: bool = False, workers: int | None = None
) -> SampleCache:
    """Decode and resize all ``samples`` in parallel threads (OpenCV and PIL release the GIL).

    Files that fail to decode (truncated, size mismatch) raise one `DatasetError`, or with
    ``skip_bad`` are logged and left out.
    """
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        outcomes = list(pool.map(lambda s: _try(load_training_pair, s, config), samples))
    problems = [f"{sample.image_path}: {error}" for sample, (_, error) in zip(samples, outcomes) if error]
    report_problems(problems, "the decoded photos and masks", skip_bad)
    good = [(sample, pair) for sample, (pair, error) in zip(samples, outcomes) if not error]
    if not good:
        raise DatasetError("none of the photo/mask pairs could be decoded")
    height, width = config.input_size
    return SampleCache(
        samples=[sample for sample, _ in good],
        images=np.stack([image for _, (image, _) in good]).reshape(-1, height, width, 3),
        masks=np.stack([mask for _, (_, mask) in good]).reshape(-1, height, width),
    )


def _try(function: Callable, *args: object) -> tuple[object, str | None]:
    """``(function(*args), None)``, or ``(None, the error message)`` if it raised."""
    try:
        return function(*args), None
    except (OSError, ValueError) as error:
        return None, str(error)
