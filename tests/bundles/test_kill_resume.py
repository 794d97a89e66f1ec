"""Killed with SIGKILL mid-training and resumed with ``--resume true``: ``models/model.pt`` never regresses.

A tiny medmambase_ultrasound run (random synthetic images, a high learning rate so that validation scores go up and
down) is started with MONAI's own runner, killed once it has a periodic checkpoint and a best model, and resumed to the
end. The best score recorded with model.pt (``model_meta.json``) never decreases, and model.pt changes only with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.bundles.bundle_runs import output_paths

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "medmambase_ultrasound"
EPOCHS = 6


def _command(root: Path, resume: bool) -> list[str]:
    options = {
        **output_paths(BUNDLE, root),
        "synthetic": "ultrasound", "synthetic_per_class": 4, "synthetic_size": [64, 64], "image_size": 64,
        "num_workers": 0, "batch_size": 8, "network_def#dims": 16, "network_def#depths": [1, 1, 1, 1],
        "epochs": EPOCHS, "learning_rate": 0.01, "resume": resume,
    }  # fmt: skip
    command = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(BUNDLE / "configs" / "train.json")]
    for key, value in options.items():
        command += [f"--{key}", json.dumps(value) if isinstance(value, (list, bool)) else str(value)]
    return command


def _state(models: Path) -> tuple[float | None, str | None]:
    meta = json.loads((models / "model_meta.json").read_text()) if (models / "model_meta.json").is_file() else {}
    model = models / "model.pt"
    digest = hashlib.sha1(model.read_bytes()).hexdigest() if model.is_file() else None
    return meta.get("best_model_score"), digest


def test_sigkill_then_resume_never_regresses_model_pt(tmp_path):
    models = tmp_path / "models"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(_command(tmp_path, False), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if list(models.glob("checkpoint*epoch=2.pt")) and (models / "model.pt").is_file():
            break
        time.sleep(0.2)
    assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()[-3000:]}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    score_killed, model_killed = _state(models)
    assert score_killed is not None and model_killed is not None

    done = subprocess.run(_command(tmp_path, True), env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"done after {EPOCHS} epoch(s)" in done.stdout
    score_final, model_final = _state(models)
    assert score_final >= score_killed, f"model.pt regressed from {score_killed} to {score_final}"
    assert (model_final == model_killed) == (score_final == score_killed), "model.pt changed without a better score"
