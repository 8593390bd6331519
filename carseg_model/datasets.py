"""Training data: find photo/mask pairs, split them by group, and feed them to Keras through tf.data.

Two folder layouts are read:

* Kaggle Carvana: ``train/<id>_<NN>.jpg`` + ``train_masks/<id>_<NN>_mask.gif``;
* generic: ``images/<name>.<ext>`` + ``masks/<name>[_mask].<ext>`` (jpg, jpeg, png, gif, webp, bmp).

Every pair is checked (both files present, both open with PIL, same size) before any
tf.data pipeline is built, so bad files give one `DatasetError` listing them instead of a
crash deep inside training. Discovery and mask reading need no TensorFlow; the pipeline
functions import it when called.

Decoded samples are held in memory at the network input size (`SampleCache`, the
pipeline's cache, before augmentation). Each epoch's order and each element's augmentation
are pure functions of ``(seed, epoch, index)`` (stateless random ops), so a seeded run is
repeatable and a resumed run sees exactly the batches the uninterrupted run would have.
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from PIL import Image

from carseg_model.config import CarSegConfig
from carseg_model.image_io import IMAGE_SUFFIXES, load_image
from carseg_model.preprocessing import resize_image

if TYPE_CHECKING:
    import tensorflow as tf

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

AUGMENTATIONS = ("flip", "scale", "color", "copy_paste")
SCALE_RANGE = (0.75, 1.33)
"""Zoom factors of the scale/crop augmentation (below 1 zooms out and pads with black)."""
PASTE_SCALE_RANGE = (0.35, 1.0)
"""Size of a pasted car relative to its own photo."""
PASTE_PROBABILITY = 0.5


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


def parse_car_values(text: str | None) -> tuple[int, ...] | None:
    """``"7,8"`` -> ``(7, 8)``; ``"any"`` or ``None`` -> ``None`` (any non-zero value)."""
    if text is None or text.strip().lower() == "any":
        return None
    try:
        return tuple(int(value) for value in text.split(","))
    except ValueError:
        raise ValueError(f"car values must be integers like 8 or 7,8 (or 'any'); got {text!r}") from None


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


def split_by_group(
    samples: Sequence[Sample], val_fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
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
            raise DatasetError(
                f"{sample.mask_path} is a colour image; masks must hold label values (grey or palette)"
            )
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


# ---------------------------------------------------------------------------- tf.data
@dataclass(frozen=True)
class Augmentations:
    """Which training augmentations are on."""

    flip: bool = True
    scale: bool = True
    color: bool = True
    copy_paste: bool = True

    @classmethod
    def parse(cls, names: str | Iterable[str]) -> Augmentations:
        """From a comma list such as ``"flip,scale"`` (empty: none)."""
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",") if name.strip()]
        unknown = sorted(set(names) - set(AUGMENTATIONS))
        if unknown:
            raise ValueError(f"unknown augmentation(s) {unknown}; choose from {', '.join(AUGMENTATIONS)}")
        return cls(**{name: name in names for name in AUGMENTATIONS})

    @property
    def names(self) -> list[str]:
        """The augmentations that are on, in pipeline order."""
        return [name for name in AUGMENTATIONS if getattr(self, name)]


def steps_per_epoch(cache: SampleCache, batch_size: int) -> int:
    """Batches in one epoch (the last one may be smaller)."""
    return math.ceil(len(cache) / batch_size)


def training_dataset(
    cache: SampleCache,
    config: CarSegConfig,
    batch_size: int,
    augmentations: Augmentations,
    seed: int,
    first_epoch: int,
    end_epoch: int,
) -> tf.data.Dataset:
    """Batches of epochs ``first_epoch .. end_epoch - 1`` back to back: ``(image, mask)`` pairs.

    Pass it to ``fit`` with ``steps_per_epoch=steps_per_epoch(cache, batch_size)`` and
    ``initial_epoch=first_epoch``. Epoch ``e`` is a seeded permutation of the cache and
    element ``i`` of it is augmented with a seed made from ``(seed, e, i)``.
    """
    import tensorflow as tf

    fetch = _fetcher(cache)
    count = len(cache)

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        epoch_seed = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=epoch_seed)

        def augmented(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            element_seed = tf.random.experimental.stateless_fold_in(epoch_seed, index)
            image, mask = fetch(index)
            if augmentations.copy_paste:
                donor_seed, element_seed = tf.unstack(tf.random.experimental.stateless_split(element_seed, 2))
                donor = (index + 1 + tf.cast(_uniform_int(donor_seed, 0, max(count - 1, 1)), tf.int64)) % count
                image, mask = _copy_paste(image, mask, *fetch(donor), element_seed)
            image, mask = augment(image, mask, augmentations, element_seed)
            return _scale_input(image, config), mask

        return (
            tf.data.Dataset.from_tensor_slices(order)
            .map(augmented, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(batch_size)
        )

    dataset = tf.data.Dataset.range(first_epoch, end_epoch).flat_map(epoch_batches)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_pipeline_options())


def evaluation_dataset(cache: SampleCache, config: CarSegConfig, batch_size: int) -> tf.data.Dataset:
    """``(image, mask)`` batches of the cache in order, without augmentation (for validation)."""
    import tensorflow as tf

    fetch = _fetcher(cache)
    dataset = (
        tf.data.Dataset.range(len(cache))
        .map(lambda index: _unpack(fetch(index), config), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size)
    )
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_pipeline_options())


def _unpack(pair: tuple[tf.Tensor, tf.Tensor], config: CarSegConfig) -> tuple[tf.Tensor, tf.Tensor]:
    image, mask = pair
    return _scale_input(image, config), mask


def _pipeline_options() -> tf.data.Options:
    """Deterministic order; each worker of a multi-worker run takes its share of the batches."""
    import tensorflow as tf

    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def _fetcher(cache: SampleCache) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """``index -> (image, mask)`` from the in-memory cache as float32 ``[0, 255]`` and ``{0, 1}``."""
    import tensorflow as tf

    height, width = cache.images.shape[1:3]

    def fetch(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image, mask = tf.numpy_function(
            lambda i: (cache.images[i], cache.masks[i]), [index], [tf.uint8, tf.uint8], stateful=False
        )
        image = tf.ensure_shape(tf.cast(image, tf.float32), [height, width, 3])
        mask = tf.ensure_shape(tf.cast(mask[..., None], tf.float32), [height, width, 1])
        return image, mask

    return fetch


def _scale_input(image: tf.Tensor, config: CarSegConfig) -> tf.Tensor:
    """``[0, 255]`` float RGB -> network input, ``x * input_scale + input_offset`` like `preprocess`."""
    return image * config.input_scale + config.input_offset


# ---------------------------------------------------------------------------- augmentation
def augment(
    image: tf.Tensor, mask: tf.Tensor, augmentations: Augmentations, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Random scale/crop, horizontal flip and colour jitter of one ``[0, 255]`` image and its mask."""
    import tensorflow as tf

    scale_seed, flip_seed, color_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    if augmentations.scale:
        image, mask = _rescale_and_place(image, mask, SCALE_RANGE, scale_seed)
    if augmentations.flip:
        flip = tf.random.stateless_uniform([], flip_seed) < 0.5
        image = tf.where(flip, tf.image.flip_left_right(image), image)
        mask = tf.where(flip, tf.image.flip_left_right(mask), mask)
    if augmentations.color:
        image = _color_jitter(image, color_seed)
    return image, mask


def _uniform_int(seed: tf.Tensor, low: int | tf.Tensor, high: int | tf.Tensor) -> tf.Tensor:
    """A stateless random int32 in ``[low, high)``."""
    import tensorflow as tf

    return tf.random.stateless_uniform([], seed, minval=low, maxval=high, dtype=tf.int32)


def _rescale_and_place(
    image: tf.Tensor, mask: tf.Tensor, scale_range: tuple[float, float], seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Zoom by a random factor in ``scale_range`` (log-uniform) and put the result at a random
    position in a frame of the original size: cropped when larger, padded with zeros when smaller.
    """
    import tensorflow as tf

    scale_seed, y_seed, x_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    height, width = image.shape[0], image.shape[1]
    log_low, log_high = math.log(scale_range[0]), math.log(scale_range[1])
    scale = tf.exp(tf.random.stateless_uniform([], scale_seed, log_low, log_high))
    new_height = tf.maximum(tf.cast(tf.round(height * scale), tf.int32), 1)
    new_width = tf.maximum(tf.cast(tf.round(width * scale), tf.int32), 1)
    image = tf.image.resize(image, tf.stack([new_height, new_width]), "bilinear")
    mask = tf.cast(tf.image.resize(mask, tf.stack([new_height, new_width]), "bilinear") >= 0.5, tf.float32)
    # Top-left corner of the zoomed image in the output frame, then pad by a full frame on
    # every side so one crop handles both zooming in and out.
    top = _uniform_int(y_seed, -tf.maximum(new_height - height, 0), tf.maximum(height - new_height, 0) + 1)
    left = _uniform_int(x_seed, -tf.maximum(new_width - width, 0), tf.maximum(width - new_width, 0) + 1)
    begin = tf.stack([height - top, width - left, 0])
    padding = [[height, height], [width, width], [0, 0]]
    image = tf.slice(tf.pad(image, padding), begin, [height, width, 3])
    mask = tf.slice(tf.pad(mask, padding), begin, [height, width, 1])
    return image, mask


def _copy_paste(
    image: tf.Tensor, mask: tf.Tensor, donor_image: tf.Tensor, donor_mask: tf.Tensor, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """With probability `PASTE_PROBABILITY`, paste the car pixels of a donor sample, shrunk to a
    random size at a random position, onto the image; the masks are united.
    """
    import tensorflow as tf

    place_seed, apply_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    donor_image, donor_mask = _rescale_and_place(donor_image, donor_mask, PASTE_SCALE_RANGE, place_seed)
    apply = tf.cast(tf.random.stateless_uniform([], apply_seed) < PASTE_PROBABILITY, tf.float32)
    pasted = donor_mask * apply
    return image * (1.0 - pasted) + donor_image * pasted, tf.maximum(mask, pasted)


def _color_jitter(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Random brightness, contrast, saturation and hue of a ``[0, 255]`` RGB image."""
    import tensorflow as tf

    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    image = image / 255.0
    image = tf.image.stateless_random_brightness(image, 0.15, seeds[0])
    image = tf.image.stateless_random_contrast(image, 0.75, 1.25, seeds[1])
    image = tf.image.stateless_random_saturation(tf.clip_by_value(image, 0.0, 1.0), 0.7, 1.3, seeds[2])
    image = tf.image.stateless_random_hue(image, 0.04, seeds[3])
    return tf.clip_by_value(image, 0.0, 1.0) * 255.0
