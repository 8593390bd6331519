"""Train a carseg model on photo/mask folders: ``python train.py --help`` (the code: `carseg_model.training`)."""

from carseg_model.training.run import main

if __name__ == "__main__":
    raise SystemExit(main())
