"""The handlers configured from a bundle-style JSON config (monai.bundle.ConfigParser), as segmamba_brats uses them."""

from __future__ import annotations

import json

import torch
from monai.bundle import ConfigParser

from mamba_monai.data.synthetic import write_synthetic_brats
from mamba_monai.engines.handlers import BratsMeanDice, TrainingCurvesPlotter

CONFIG = """
{
    "imports": ["$import mamba_monai", "$import mamba_monai.engines.handlers", "$import mamba_monai.data.brats"],
    "output_dir": "OUTPUT",
    "datalist": "$mamba_monai.data.brats.find_brats_cases('DATA')",
    "network": {"_target_": "torch.nn.Conv3d", "in_channels": 4, "out_channels": 3, "kernel_size": 1},
    "preprocessing": {
        "_target_": "Compose",
        "transforms": [
            {"_target_": "LoadImaged", "keys": ["image", "label"]},
            {"_target_": "mamba_monai.data.transforms.ConvertBratsLabelsd", "keys": "label"}
        ]
    },
    "postprocessing": {
        "_target_": "Compose",
        "transforms": [
            {"_target_": "Activationsd", "keys": "pred", "sigmoid": true},
            {"_target_": "AsDiscreted", "keys": "pred", "threshold": 0.5}
        ]
    },
    "dataloader": {
        "_target_": "DataLoader",
        "dataset": {"_target_": "Dataset", "data": "@datalist", "transform": "@preprocessing"},
        "batch_size": 1
    },
    "train": {
        "handlers": [
            {"_target_": "ValidationHandler", "validator": "@validate#evaluator", "epoch_level": true, "interval": 1},
            {
                "_target_": "mamba_monai.engines.handlers.TrainingCurvesPlotter",
                "output_path": "$@output_dir + '/training_curves.png'",
                "validator": "@validate#evaluator"
            }
        ],
        "trainer": {
            "_target_": "SupervisedTrainer",
            "device": "cpu",
            "max_epochs": 1,
            "train_data_loader": "@dataloader",
            "network": "@network",
            "loss_function": {"_target_": "DiceLoss", "sigmoid": true},
            "optimizer": {"_target_": "torch.optim.SGD", "params": "$@network.parameters()", "lr": 0.1},
            "postprocessing": "@postprocessing",
            "train_handlers": "@train#handlers"
        }
    },
    "validate": {
        "handlers": [
            {"_target_": "StatsHandler", "iteration_log": false},
            {"_target_": "mamba_monai.engines.handlers.BratsMetricsWriter", "output_dir": "@output_dir"},
            {
                "_target_": "mamba_monai.engines.handlers.SegmentationOverlayWriter",
                "output_dir": "$@output_dir + '/overlays'",
                "image_channel": 0,
                "every_n": 1
            }
        ],
        "key_metric": {"val_dice": {"_target_": "mamba_monai.engines.handlers.BratsMeanDice"}},
        "additional_metrics": {"val_hd95": {"_target_": "mamba_monai.engines.handlers.BratsHD95"}},
        "evaluator": {
            "_target_": "SupervisedEvaluator",
            "device": "cpu",
            "val_data_loader": "@dataloader",
            "network": "@network",
            "postprocessing": "@postprocessing",
            "key_val_metric": "@validate#key_metric",
            "additional_metrics": "@validate#additional_metrics",
            "val_handlers": "@validate#handlers"
        }
    },
    "run": ["$@train#trainer.run()"]
}
"""


def test_bundle_config_runs_and_writes(tmp_path):
    write_synthetic_brats(tmp_path / "data", n_cases=2, shape=(16, 16, 16))
    text = CONFIG.replace("OUTPUT", str(tmp_path / "eval")).replace("DATA", str(tmp_path / "data"))
    parser = ConfigParser(json.loads(text))
    handlers = parser.get_parsed_content("train#handlers")
    plotter = handlers[1]
    assert isinstance(plotter, TrainingCurvesPlotter)
    assert plotter.validator is parser.get_parsed_content("validate#evaluator")
    assert isinstance(parser.get_parsed_content("validate#key_metric")["val_dice"], BratsMeanDice)
    torch.manual_seed(0)
    parser.get_parsed_content("run")
    out = tmp_path / "eval"
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert names == [
        "metrics_per_case.csv",
        "metrics_summary.json",
        "overlays",
        "overlays/overlay_epoch0001.png",
        "training_curves.png",
    ]
    summary = json.loads((out / "metrics_summary.json").read_text())
    assert summary["num_cases"] == 2
    # the datalist has a "case" entry: it names the rows
    assert (out / "metrics_per_case.csv").read_text().splitlines()[1].startswith("BraTS2021_00000,")
