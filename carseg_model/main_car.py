"""Which car pixels belong to the car a photo is about.

The rule, in order:

1. The mask's connected pieces (8-connected) are grouped into cars: two pieces are one car when
   they are side by side with a gap of at most `GAP` of the photo's longer side and overlap by half
   of the smaller one's extent the other way (a car cut in two by a pole, a lamp post or a mirror),
   or when one piece's box holds the other's centre (a mirror or wheel inside the body's box).
2. Each car scores ``area x (1 - distance of its centre from the photo's centre / half the
   diagonal)``: the biggest car wins, and nearness to the centre decides between similar sizes.

Cars that touch in the photo are one piece of the mask and stay together.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

GAP = 0.03
"""Largest gap, as a share of the photo's longer side, between pieces of one car."""


def main_car_pieces(mask: np.ndarray) -> np.ndarray | None:
    """A bool mask of the main car's pieces in ``mask``, or ``None`` when the mask has at most one piece."""
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if count <= 2:  # background plus at most one piece: nothing to choose
        return None
    pieces = list(range(1, count))
    car_of = {piece: piece for piece in pieces}

    def car(piece: int) -> int:
        while car_of[piece] != piece:
            piece = car_of[piece]
        return piece

    gap = GAP * max(mask.shape)
    for index, first in enumerate(pieces):
        for second in pieces[index + 1 :]:
            if _one_car(stats[first], stats[second], centroids[first], centroids[second], gap):
                car_of[car(second)] = car(first)
    cars: dict[int, list[int]] = {}
    for piece in pieces:
        cars.setdefault(car(piece), []).append(piece)
    best = max(cars.values(), key=lambda members: _score(members, stats, centroids, mask.shape))
    keep = np.zeros(count, bool)
    keep[best] = True
    return keep[labels]


def _one_car(
    first: np.ndarray, second: np.ndarray, first_centre: np.ndarray, second_centre: np.ndarray, gap: float
) -> bool:
    x_gap, x_overlap = _gap_and_overlap(first[0], first[2], second[0], second[2])
    y_gap, y_overlap = _gap_and_overlap(first[1], first[3], second[1], second[3])
    side_by_side = x_gap <= gap and y_overlap >= 0.5 * min(first[3], second[3])
    stacked = y_gap <= gap and x_overlap >= 0.5 * min(first[2], second[2])
    return side_by_side or stacked or _inside(second_centre, first) or _inside(first_centre, second)


def _gap_and_overlap(start: int, length: int, other_start: int, other_length: int) -> tuple[int, int]:
    """Gap between two intervals (0 if they meet) and the length they share (0 if they do not)."""
    end, other_end = start + length, other_start + other_length
    return max(0, max(start, other_start) - min(end, other_end)), max(0, min(end, other_end) - max(start, other_start))


def _inside(point: np.ndarray, box: np.ndarray) -> bool:
    x, y = point
    return bool(box[0] <= x < box[0] + box[2] and box[1] <= y < box[1] + box[3])


def _score(members: list[int], stats: np.ndarray, centroids: np.ndarray, shape: tuple[int, int]) -> float:
    areas = stats[members, cv2.CC_STAT_AREA].astype(float)
    centre = (centroids[members] * areas[:, None]).sum(axis=0) / areas.sum()
    height, width = shape
    distance = math.hypot(centre[0] - width / 2, centre[1] - height / 2) / math.hypot(width / 2, height / 2)
    return float(areas.sum() * (1.0 - distance))
