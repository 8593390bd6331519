"""The model card: the facts a training run records in ``config.card``, and their rendering into ``README.md``.

`render_model_card` fills the template ``model_card.md`` (Jinja, Hugging Face's `ModelCard`)
with the config and ``config.card``: YAML metadata (licence, tags, datasets, ``model-index``
results), then the text. The helpers below build the parts of ``config.card`` that need
rules: the licence, from the data the model learnt from (`model_license`), and the
evaluation rows. ``config.card`` keys read by the template:

* ``model_name``, ``repo_id``, ``license``, ``license_notes``;
* ``datasets``: rows ``{name, train_images, val_images, car_values, license}``;
* ``training``: setting -> value (``command`` shown as a code block);
* ``initialised_from``: the trained model a fine-tuned model started from;
* ``evaluation_method``, ``metrics``: rows ``{dataset, split, images, dice, iou}``;
* ``comparison``: a Markdown table written by ``bench/compare_teachers.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from carseg_model.config import CarSegConfig
from carseg_model.evaluation import OVERALL

TEMPLATE = (Path(__file__).resolve().parent / "model_card.md").read_text(encoding="utf-8")
TAGS = ["image-segmentation", "car-segmentation", "unet", "mobilenetv2", "carseg"]
DEFAULT_MODEL_NAME = "carseg-unet-mobilenetv2"
DEFAULT_LICENSE = "apache-2.0"
"""The licence of a model whose card records none (the code's licence)."""

NON_COMMERCIAL = "cc-by-nc-4.0"
UNCLEAR = "other"
RESTRICTIVENESS = {DEFAULT_LICENSE: 0, UNCLEAR: 1, NON_COMMERCIAL: 2}
"""The Hub licence ids this module gives, least to most restrictive; any other id counts as `UNCLEAR`."""


def render_model_card(config: CarSegConfig, parameters: int) -> str:
    """The ``README.md`` of a saved model: the template filled with ``config`` and ``config.card``.

    ``parameters`` is the network's parameter count (shown in the model details).
    """
    card = config.card
    model_name = card.get("model_name", DEFAULT_MODEL_NAME)
    card_data = ModelCardData(
        library_name="keras",
        pipeline_tag="image-segmentation",
        license=card.get("license", DEFAULT_LICENSE),
        tags=TAGS,
        datasets=[d["name"] for d in card.get("datasets", [])] or None,
        model_name=model_name,
        eval_results=eval_results(card.get("metrics", [])) or None,
    )
    rendered = ModelCard.from_template(
        card_data,
        template_str=TEMPLATE,
        model_name=model_name,
        repo_id=card.get("repo_id", f"<user>/{model_name}"),
        config=asdict(config),
        card=card,
        parameters=parameters,
    )
    return str(rendered)


def eval_results(metrics: Sequence[Mapping[str, Any]]) -> list[EvalResult]:
    """``model-index`` entries (Dice and IoU per dataset) for the card's YAML, from ``card["metrics"]`` rows."""
    return [
        EvalResult(
            task_type="image-segmentation",
            task_name="Car segmentation",
            dataset_type=m["dataset"],
            dataset_name=m["dataset"],
            dataset_split=m.get("split", "validation"),
            metric_type=metric,
            metric_name=f"Mean {metric.capitalize() if metric == 'dice' else metric.upper()}",
            metric_value=round(float(m[metric]), 4),
        )
        for m in metrics
        for metric in ("dice", "iou")
    ]


def metric_rows(summary: Mapping[str, Mapping[str, float]], split: str = "validation") -> list[dict[str, Any]]:
    """``card["metrics"]`` rows from `carseg_model.evaluation.summarize` (without its overall row)."""
    return [
        {"dataset": name, "split": split, "images": values["images"], "dice": values["dice"], "iou": values["iou"]}
        for name, values in summary.items()
        if name != OVERALL
    ]


def model_license(data_licenses: Sequence[str], base_card: Mapping[str, Any] | None = None) -> tuple[str, list[str]]:
    """The Hub licence id of a model and the licence notes for its card.

    ``data_licenses`` are the licences of the data it was trained on (free text, e.g.
    ``"CC BY-NC 4.0 (non-commercial)"``). A model fine-tuned from another passes that model's
    card as ``base_card``: the data that model learnt from counts too, and the licence is at
    least as restrictive as the base model's.
    """
    base_rows = list(base_card.get("datasets", [])) if base_card is not None else []
    license, notes = _data_license([*data_licenses, *(row["license"] for row in base_rows)])
    if base_card is not None:
        base_license = base_card.get("license", DEFAULT_LICENSE)
        if _restrictiveness(base_license) > _restrictiveness(license):
            license = base_license if base_license in RESTRICTIVENESS else UNCLEAR
            notes.append(f"Fine-tuned from a model released under {base_license}, so it keeps that licence's terms.")
        if base_rows:
            learnt = "; ".join(f"{row['name']} ({row['license']})" for row in base_rows)
            notes.append(f"The model it was fine-tuned from was trained on: {learnt}.")
    return license, notes


def _data_license(licenses: Sequence[str]) -> tuple[str, list[str]]:
    """The Hub licence id for data under ``licenses``, and the note that explains it."""
    if any(_non_commercial(license) for license in licenses):
        return NON_COMMERCIAL, [
            "Trained on data under a non-commercial licence (CC BY-NC 4.0), so the model is released "
            "under CC BY-NC 4.0: no commercial use."
        ]
    if any(license == "unknown" or "research" in license.lower() for license in licenses):
        return UNCLEAR, [
            "Some training data has no open licence (see the table above): check its terms before "
            "using or sharing this model."
        ]
    return DEFAULT_LICENSE, []


def _non_commercial(license: str) -> bool:
    text = license.lower()
    return "nc" in text.replace("-", " ").split() or "non-commercial" in text


def _restrictiveness(license: str) -> int:
    return RESTRICTIVENESS.get(license, RESTRICTIVENESS[UNCLEAR])
