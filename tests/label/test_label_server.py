"""The real MONAI Label server on the app: start it on 127.0.0.1, GET /info/, POST /infer for a 3D segmentation bundle
(a NIfTI label map with the input's shape and affine comes back), a 2D segmentation bundle (a PNG label map of the
input's size) and a classification bundle (class probabilities come back), POST /train for the segmentation bundle (one epoch on two labelled studies), stop it. Tiny random-weight
copies of the bundles keep it to a few minutes on CPU."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "monailabel",
    reason="MONAI Label (the 'label' extra) is not installed here; it pins numpy < 2 and lives in its own venv",
)
requests = pytest.importorskip("requests")

from mamba_monai.data.synthetic import MICROSCOPY_CLASSES  # noqa: E402
from tests.bundles.bundle_runs import free_port, run_workflow  # noqa: E402
from tests.label.tiny_bundles import (  # noqa: E402
    BRATS_SHAPE,
    BRATS_STUDY,
    LESION_SIZE,
    LESION_STUDY,
    MICROSCOPY_STUDY,
    TINY_CONFIG,
    brats_label_values,
    make_studies,
    make_tiny_bundle,
    nifti_spatial_shape_and_affine,
)

START_TIMEOUT = 180  # seconds for the server to answer /info/
REQUEST_TIMEOUT = 300  # seconds for one inference (includes a first build of the CPU kernel)
TRAIN_TIMEOUT = 600  # seconds for one training epoch on two 32^3 studies

SERVE = "import fire; from mamba_monai.label.cli import LabelCLI; fire.Fire(LabelCLI(), name='mamba-monai label')"


def wait_for_info(url: str, process: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with code {process.returncode} before answering:\n{log.read_text()[-5000:]}")
        try:
            response = requests.get(f"{url}/info/", timeout=5)
            if response.status_code == 200:
                return response.json()
        except requests.ConnectionError:
            pass
        time.sleep(1)
    pytest.fail(f"server did not answer {url}/info/ within {START_TIMEOUT} s:\n{log.read_text()[-5000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("label")
    for name in ("segmamba_brats", "msmamba_microscopy", "slicemamba_lesion"):
        make_tiny_bundle(name, root / "bundles")
    models = root / "bundles" / "slicemamba_lesion" / "models"
    for other in ("supernet.pt", "checkpoint_epoch=3.pt"):  # what a trained search bundle keeps beside model.pt
        shutil.copyfile(models / "model.pt", models / other)
    studies = make_studies(root / "studies", root / "scratch", labelled=2)
    port = free_port()
    log = root / "server.log"
    (root / "tmp").mkdir()
    env = {
        **os.environ,
        "MONAI_LABEL_DATASTORE_AUTO_RELOAD": "false",
        "MONAI_LABEL_SESSION_PATH": str(root / "sessions"),  # not ~/.cache/monailabel
        "OMP_NUM_THREADS": "2",
        # MONAI Label leaves temporary files behind (its logging config, results sent as multipart): not in /tmp
        "TMPDIR": str(root / "tmp"),
    }
    command = [
        sys.executable, "-c", SERVE, "serve",
        "--studies", str(root / "studies"),
        "--models", "segmamba_brats,msmamba_microscopy,slicemamba_lesion",
        "--bundles_dir", str(root / "bundles"),
        "--configs", TINY_CONFIG,
        "--app_dir", str(root / "app"),
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        info = wait_for_info(url, process, log)
        yield {"url": url, "info": info, "studies": studies, "root": root, "log": log}
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def test_info_lists_both_tasks_and_the_segmentation_trainer(server):
    info = server["info"]
    models = info["models"]
    assert set(models) == {"segmamba_brats", "msmamba_microscopy", "slicemamba_lesion"}
    assert models["segmamba_brats"]["type"] == "segmentation"
    assert models["segmamba_brats"]["dimension"] == 3
    brats_labels = {"necrotic tumour core": 1, "peritumoral oedema": 2, "enhancing tumour": 4}
    assert models["segmamba_brats"]["labels"] == brats_labels
    assert models["slicemamba_lesion"]["type"] == "segmentation"
    assert models["slicemamba_lesion"]["dimension"] == 2
    assert models["slicemamba_lesion"]["labels"] == {"lesion": 1}
    assert models["msmamba_microscopy"]["type"] == "classification"
    assert models["msmamba_microscopy"]["labels"] == {name: i for i, name in enumerate(MICROSCOPY_CLASSES)}
    assert set(info["trainers"]) == {"segmamba_brats"}  # slicemamba_lesion: three-stage search bundle, no trainer
    assert (server["root"] / "app" / "main.py").is_file()  # the app folder is writable, not the package


def bundle_inference(server, name: str, image: Path, output_dir: Path) -> None:
    """The bundle's own inference workflow (inference.json + tiny.json) on one image, in this process."""
    bundle = server["root"] / "bundles" / name
    configs = bundle / "configs"
    files = [str(configs / "inference.json"), str(configs / TINY_CONFIG)]
    run_workflow(configs, files, "infer", bundle_root=str(bundle), input=str(image), output_dir=str(output_dir))


def test_infer_segmentation_returns_label_map_shaped_like_input(server, tmp_path):
    import nibabel as nib

    response = requests.post(
        f"{server['url']}/infer/segmamba_brats",
        params={"image": BRATS_STUDY, "output": "image"},
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 200, response.text[:2000]
    result = tmp_path / "label.nii.gz"
    result.write_bytes(response.content)
    label = nib.load(str(result))
    input_shape, input_affine = nifti_spatial_shape_and_affine(server["studies"][BRATS_STUDY])
    assert label.shape == input_shape == BRATS_SHAPE
    np.testing.assert_allclose(label.affine, input_affine, atol=1e-4)
    served = np.asarray(label.dataobj).astype(int)
    assert set(np.unique(served)) <= brats_label_values("2021")

    # the same label map as the bundle's own inference (up to voxels at the 0.5 threshold)
    bundle_inference(server, "segmamba_brats", server["studies"][BRATS_STUDY], tmp_path / "bundle")
    (own_file,) = (tmp_path / "bundle").rglob("*.nii.gz")
    own = np.asarray(nib.load(str(own_file)).dataobj).astype(int)
    assert own.shape == served.shape
    assert (own == served).mean() > 0.99


def test_infer_2d_segmentation_returns_png_label_map_of_the_input_size(server, tmp_path):
    from PIL import Image

    response = requests.post(
        f"{server['url']}/infer/slicemamba_lesion",
        params={"image": LESION_STUDY, "output": "image"},
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 200, response.text[:2000]
    result = tmp_path / "label.png"
    result.write_bytes(response.content)
    served = np.asarray(Image.open(result))
    assert served.shape == LESION_SIZE  # (H, W) of the study, not the network's 64 x 64
    assert set(np.unique(served)) <= {0, 1}

    # exactly the bundle's network on the bundle's preprocessing, thresholded at 64 x 64 and restored to the study's
    # size by nearest neighbour (MONAI Label's restore step). (The bundle's own mask writer resizes the probabilities
    # before thresholding instead: with these random, speckled outputs only ~75-80% of pixels agree with it; with the
    # demo's trained weights 99.6% did.)
    import torch
    from monai.bundle import ConfigParser

    bundle = server["root"] / "bundles" / "slicemamba_lesion"
    parser = ConfigParser()
    parser.read_config([str(bundle / "configs" / "inference.json"), str(bundle / "configs" / TINY_CONFIG)])
    parser["bundle_root"] = str(bundle)
    network = parser.get_parsed_content("network_def")
    network.load_state_dict(torch.load(bundle / "models" / "model.pt", map_location="cpu"))
    image = parser.get_parsed_content("preprocessing")({"image": str(server["studies"][LESION_STUDY])})["image"]
    from mamba_monai.utils.precision import autocast_settings

    with torch.no_grad(), torch.autocast(**autocast_settings("cpu", True)):  # served as inference.json runs: bf16
        logits = network.eval()(torch.as_tensor(image)[None].float()).float()
    expected = torch.nn.functional.interpolate((logits > 0).float(), size=LESION_SIZE, mode="nearest")[0, 0]
    assert 0.0 < expected.mean() < 1.0  # not a constant map
    np.testing.assert_array_equal(served, expected.numpy().astype(np.uint8))


def test_infer_classification_returns_probabilities(server):
    response = requests.post(
        f"{server['url']}/infer/msmamba_microscopy",
        params={"image": MICROSCOPY_STUDY, "output": "json"},
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 200, response.text[:2000]
    result = response.json()
    probabilities = result["probabilities"]
    assert list(probabilities) == list(MICROSCOPY_CLASSES)
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())
    assert result["label"] == max(probabilities, key=probabilities.get)
    assert result["label_index"] == list(MICROSCOPY_CLASSES).index(result["label"])


def test_classification_matches_the_bundles_own_inference(server, tmp_path):
    response = requests.post(
        f"{server['url']}/infer/msmamba_microscopy",
        params={"image": MICROSCOPY_STUDY, "output": "json"},
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 200, response.text[:2000]
    bundle_inference(server, "msmamba_microscopy", server["studies"][MICROSCOPY_STUDY], tmp_path)
    with open(tmp_path / "predictions.csv") as f:
        (row,) = list(csv.DictReader(f))
    own = {name: float(row[f"prob_{name}"]) for name in MICROSCOPY_CLASSES}
    assert response.json()["probabilities"] == pytest.approx(own, abs=1e-4)


def test_infer_uploaded_file(server):
    """A client without the study in the datastore (e.g. 3D Slicer sending its volume) uploads the image."""
    study = server["studies"][MICROSCOPY_STUDY]
    with open(study, "rb") as image:
        response = requests.post(
            f"{server['url']}/infer/msmamba_microscopy",
            params={"output": "json"},
            files={"file": (study.name, image, "image/png")},
            timeout=REQUEST_TIMEOUT,
        )
    assert response.status_code == 200, response.text[:2000]
    assert sum(response.json()["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_unknown_model_is_a_404_naming_the_served_ones(server):
    response = requests.post(
        f"{server['url']}/infer/no_such_bundle", params={"image": MICROSCOPY_STUDY}, timeout=REQUEST_TIMEOUT
    )
    assert response.status_code == 404 and "msmamba_microscopy" in response.json()["detail"]


def test_monai_labels_own_client_gets_the_4xx_and_the_message(server):
    """The client 3D Slicer and OHIF build on (``monailabel.client.MONAILabelClient``) sees the status and the message."""
    from monailabel.client import MONAILabelClient
    from monailabel.client.client import MONAILabelClientException

    client = MONAILabelClient(server["url"], tmpdir=str(server["root"] / "client"))
    with pytest.raises(MONAILabelClientException) as error:
        client.infer("msmamba_microscopy", "no_such_study", {})
    assert "Status: 404" in str(error.value.msg) and "unknown image 'no_such_study'" in str(error.value.msg)
    image, result = client.infer("msmamba_microscopy", MICROSCOPY_STUDY, {})
    result = json.loads(result) if isinstance(result, (bytes, str)) else result
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_unknown_trainer_is_a_404(server):
    response = requests.post(
        f"{server['url']}/train/msmamba_microscopy", params={"run_sync": "true"}, json={}, timeout=REQUEST_TIMEOUT
    )
    assert response.status_code == 404 and "this app trains: segmamba_brats" in response.json()["detail"]


def test_unknown_image_id_is_a_404(server):
    response = requests.post(
        f"{server['url']}/infer/msmamba_microscopy", params={"image": "no_such_study"}, timeout=REQUEST_TIMEOUT
    )
    assert response.status_code == 404 and "unknown image 'no_such_study'" in response.json()["detail"]


def test_corrupt_upload_is_a_422_with_the_bundles_message(server):
    data = server["studies"][MICROSCOPY_STUDY].read_bytes()
    response = requests.post(
        f"{server['url']}/infer/msmamba_microscopy",
        params={"output": "json"},
        files={"file": ("scan.png", data[: len(data) // 3], "image/png")},
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 422, response.text[:2000]
    assert "msmamba_microscopy' cannot use this input" in response.json()["detail"]


def test_only_the_served_model_is_offered_and_accepted(server):
    config = server["info"]["models"]["slicemamba_lesion"]["config"]
    assert config["model_filename"] == ["model.pt"]  # not the supernet, not the periodic checkpoint beside it
    response = requests.post(
        f"{server['url']}/infer/slicemamba_lesion",
        params={"image": LESION_STUDY, "output": "json"},
        data={"params": '{"model_filename": "supernet.pt"}'},
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 400 and "not a servable model" in response.json()["detail"]


def test_train_segmentation_bundle_updates_its_weights(server):
    """Last: one epoch on the two labelled studies through MONAI Label's training endpoint (a subprocess)."""
    model = server["root"] / "bundles" / "segmamba_brats" / "models" / "model.pt"
    before = model.stat().st_mtime_ns
    response = requests.post(
        f"{server['url']}/train/segmamba_brats",
        params={"run_sync": "true"},
        json={"max_epochs": 1, "val_split": 0.5, "device": "cpu", "multi_gpu": False},
        timeout=TRAIN_TIMEOUT,
    )
    assert response.status_code == 200, response.text[:2000]
    assert model.stat().st_mtime_ns > before, server["log"].read_text()[-5000:]
    log = server["log"].read_text()
    assert f"study skipped: '{LESION_STUDY}.jpg' is not a NIfTI volume" in log  # the saved 2D label is left alone
