#!/usr/bin/env bash
# Reproduce a bundled model from ../shared/data:
#   bash scripts/train_release.sh            -> carseg_model/pretrained/carseg-unet-mobilenetv2 (the default)
#   bash scripts/train_release.sh separable  -> carseg_model/pretrained/carseg-unet-mobilenetv2-separable
# (the argument is train.py's --decoder-block). Runs train.py exactly as users do, in stages:
#   1. runs/release[_separable]:    ImageNet encoder -> car photos (Roboflow, CamVid, DSMLR), 22 epochs
#      at 288x384;
#   2. runs/release[_separable]_ft: fine-tune that model with car-free photos added (OpenCV sample
#      photos from Debian's opencv-doc, scripts/make_negatives.py), so photos without a car stay unmarked;
#   3. runs/release[_separable]_scenes: "know what a car is" - fine-tune the stage-2 model into an
#      aspect-true model (--input-shape keep_aspect, ~320x384 pixels) on multi-scale scenes (--scenes: crops
#      of 320x384, pasted small cars and people/animals), the car-free photos of ../shared/data/negatives
#      (15 % held out) and soft targets from the two DeepLabV3 teachers (--teachers; their labels are cached
#      in the run folder on first use), half of DSMLR (--data-every 2: machine-made labels), cosine schedule.
# DSMLR uses its teacher-or-parts pseudo-labels, seen through a folder of links (images/ + masks/).
# The bundled model is the last stage's. Run it again after an interruption: each stage resumes from its
# last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
DECODER_BLOCK="${1:-transpose}"
if [ "$DECODER_BLOCK" = transpose ]; then SUFFIX=""; else SUFFIX="_$DECODER_BLOCK"; fi
NAME="carseg-unet-mobilenetv2${SUFFIX//_/-}"
STAGE1="runs/release$SUFFIX"
STAGE2="runs/release${SUFFIX}_ft"
STAGE3="runs/release${SUFFIX}_scenes"
DATA=runs/release_data
mkdir -p "$DATA/dsmlr_carparts"
ln -sfn "$(realpath "$SHARED/data/dsmlr_carparts/images")" "$DATA/dsmlr_carparts/images"
ln -sfn "$(realpath "$SHARED/data/dsmlr_carparts/masks_teacher_or_parts")" "$DATA/dsmlr_carparts/masks"
[ -d "$DATA/opencv_negatives" ] || .venv/bin/python scripts/make_negatives.py "$DATA/opencv_negatives"

CAR_DATA=(
    --data "$SHARED/data/roboflow_car_seg" --car-values 8 --data-license "CC BY 4.0"
    --data "$SHARED/data/camvid_cars" --car-values 8 --data-license "CC BY-NC 4.0 (non-commercial)"
    --data "$DATA/dsmlr_carparts" --car-values 255
    --data-license "research use with citation (Pasupa et al. 2021); masks: VOC DeepLabV3 teacher pseudo-labels ∪ annotated parts"
)
NEGATIVES="$SHARED/data/negatives"
NEGATIVE_DATA=(
    --negatives "$NEGATIVES/debian_wallpapers"
    --negatives-license "GPL-2+ / LGPL-3 (Debian plasma-workspace-wallpapers, mate-backgrounds)"
    --negatives "$NEGATIVES/msrc_v2" --negatives-license "MSRC v2 (Microsoft Research Cambridge): non-commercial research"
    --negatives "$NEGATIVES/opencv_samples"
    --negatives-license "Apache-2.0 / BSD-3-Clause (Debian opencv-doc; third-party sample photos: research/test use)"
    --negatives "$NEGATIVES/oxford_pet_subset" --negatives-license "CC BY-SA 4.0 (Oxford-IIIT Pet)"
    --negatives "$NEGATIVES/skimage_data"
    --negatives-license "public domain / CC0 (scikit-image data; the motorcycle photo: research use)"
    --negatives "$NEGATIVES/sklearn_images" --negatives-license "CC BY 2.0 (scikit-learn sample images)"
)
SCENES=(  # stage 3: the scene recipe (seed 7 keeps every stage's validation split)
    "${CAR_DATA[@]}" --data-every 1 --data-every 1 --data-every 2 "${NEGATIVE_DATA[@]}" --teachers "$SHARED/teachers"
    --model-name "$NAME" --scenes --crop 320x384 --input-size 320x384 --input-shape keep_aspect
    --lr-schedule cosine --loss dice_bce --batch-size 8 --seed 7
)

if [ -f "$STAGE1/run_config.json" ]; then
    .venv/bin/python train.py --resume "$STAGE1"
else
    .venv/bin/python train.py "${CAR_DATA[@]}" \
        --encoder-weights "$SHARED/weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5" \
        --decoder-block "$DECODER_BLOCK" --model-name "$NAME" --input-size 288x384 --batch-size 8 --epochs 22 --patience 6 \
        --freeze-encoder-epochs 2 --learning-rate 1e-3 --finetune-learning-rate 2e-4 \
        --loss dice_bce --seed 7 --output "$STAGE1"
fi

if [ -f "$STAGE2/run_config.json" ]; then
    .venv/bin/python train.py --resume "$STAGE2"
else
    .venv/bin/python train.py "${CAR_DATA[@]}" \
        --data "$DATA/opencv_negatives" --car-values any --data-license "Apache-2.0 / BSD-3-Clause (Debian opencv-doc)" \
        --init-from "$STAGE1/model" --model-name "$NAME" --batch-size 8 --epochs 8 --patience 4 \
        --learning-rate 1e-4 --loss dice_bce --seed 7 --output "$STAGE2"
fi

if [ -f "$STAGE3/run_config.json" ]; then
    .venv/bin/python train.py --resume "$STAGE3"
else
    .venv/bin/python train.py "${SCENES[@]}" --init-from "$STAGE2/model" --epochs 4 --learning-rate 2e-4 \
        --output "$STAGE3"
fi

rm -rf "carseg_model/pretrained/$NAME"
mkdir -p carseg_model/pretrained
cp -r "$STAGE3/model" "carseg_model/pretrained/$NAME"
if [ "$DECODER_BLOCK" = transpose ]; then  # the default model also ships its ONNX export (the CLI's runtime)
    .venv/bin/carseg export --model "$STAGE3/model" --format onnx --out "$STAGE3/onnx" --overwrite
    cp "$STAGE3/onnx/model.onnx" "carseg_model/pretrained/$NAME/model.onnx"
fi
