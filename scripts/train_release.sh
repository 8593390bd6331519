#!/usr/bin/env bash
# Reproduce the bundled model (carseg_model/pretrained/carseg-unet-mobilenetv2) from ../shared/data.
# Runs train.py exactly as users do; DSMLR uses its teacher-or-parts pseudo-labels, seen through a
# folder of links (images/ + masks/) so train.py reads it like any other dataset.
# Run it again after an interruption: it resumes runs/release from its last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
DSMLR_VIEW=runs/release_data/dsmlr_carparts
mkdir -p "$DSMLR_VIEW"
ln -sfn "$(realpath "$SHARED/data/dsmlr_carparts/images")" "$DSMLR_VIEW/images"
ln -sfn "$(realpath "$SHARED/data/dsmlr_carparts/masks_teacher_or_parts")" "$DSMLR_VIEW/masks"

if [ -f runs/release/run_config.json ]; then
    .venv/bin/python train.py --resume runs/release
else
  .venv/bin/python train.py \
    --data "$SHARED/data/roboflow_car_seg" --car-values 8 \
    --data "$SHARED/data/camvid_cars" --car-values 8 \
    --data "$DSMLR_VIEW" --car-values 255 \
    --data-license "CC BY 4.0" --data-license "CC BY-NC 4.0 (non-commercial)" \
    --data-license "research use with citation (Pasupa et al. 2021); masks: VOC DeepLabV3 teacher pseudo-labels ∪ annotated parts" \
    --encoder-weights "$SHARED/weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5" \
    --input-size 288x384 --batch-size 8 --epochs 22 --patience 6 \
    --freeze-encoder-epochs 2 --learning-rate 1e-3 --finetune-learning-rate 2e-4 \
    --loss dice_bce --seed 7 \
    --output runs/release
fi

rm -rf carseg_model/pretrained/carseg-unet-mobilenetv2
mkdir -p carseg_model/pretrained
cp -r runs/release/model carseg_model/pretrained/carseg-unet-mobilenetv2
