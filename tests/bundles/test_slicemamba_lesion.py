"""slicemamba_lesion end to end, model-zoo style: synthetic lesion images in a temp dir, ConfigWorkflow with small
overrides, the three stages (supernet -> search -> retrain) then evaluation and inference, with a tiny network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from PIL import Image

from mamba_monai.data.synthetic.dermoscopy import write_synthetic_dermoscopy
from mamba_monai.networks.blocks.genotype import Genotype
from mamba_monai.networks.nets import SliceMamba, SliceMambaSupernet
from tests.bundles.bundle_runs import (
    assert_verify_net_in_out,
    error_messages,
    output_paths,
    run_multi_gpu_on_cpu,
    run_under_torchrun,
    run_workflow,
)

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "slicemamba_lesion"
CONFIGS = BUNDLE / "configs"
TINY_NET = {"dims": [8, 16, 32], "depths": [1, 1, 1], "depths_decoder": [1, 1, 1]}
N_GENES = 6
SMALL_SEARCH = {"population": 4, "top_k": 2, "mutations": 1, "crossovers": 1, "generations": 2, "show_progress": False}


def overrides(root: Path, **extra) -> dict:
    return {
        **output_paths(BUNDLE, root),
        "synthetic_if_empty": True,
        "synthetic_images": 14,
        "synthetic_size": [64, 80],  # non-square files, resized to the square network input
        "image_size": [64, 64],
        "batch_size": 4,
        "num_workers": 0,
        "epochs": 1,
        **TINY_NET,
        **extra,
    }


def configs(*names: str) -> list[str]:
    return [str(CONFIGS / name) for name in names]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Supernet (1 epoch) -> search (2 generations of 4) -> retrain (1 epoch), on 14 synthetic 64 x 80 images that
    the bundle writes itself (the demo path)."""
    root = tmp_path_factory.mktemp("slicemamba")
    supernet = run_workflow(CONFIGS, configs("train.json", "train_supernet.json"), "train", **overrides(root))
    search = run_workflow(CONFIGS, configs("train.json", "search.json"), None, **overrides(root, **SMALL_SEARCH))
    retrain = run_workflow(CONFIGS, configs("train.json"), "train", **overrides(root))
    return root, {"supernet": supernet, "search": search, "retrain": retrain}


def test_supernet_stage_trains_sampled_paths_only(pipeline):
    root, workflows = pipeline
    models = root / "models"
    assert (models / "supernet.pt").is_file()
    assert len(list(models.glob("supernet_checkpoint*epoch=1.pt"))) == 1
    state = torch.load(models / "supernet.pt", map_location="cpu", weights_only=True)
    supernet = SliceMambaSupernet(**TINY_NET)
    supernet.load_state_dict(state)  # the supernet's own keys: encoder.{s}.{j}.{choice}...

    parser = workflows["supernet"].parser
    trainer = parser.get_parsed_content("train#trainer")
    sampler = parser.get_parsed_content("train#extra_handlers")[0]
    optimizer = parser.get_parsed_content("optimizer")
    network = parser.get_parsed_content("network")
    assert trainer.optim_set_to_none
    assert sampler.num_sampled == trainer.state.iteration >= 2  # one path per iteration
    assert len(sampler.counts) == sampler.num_sampled  # distinct random paths (6 genes, 4096 paths)
    used = {(i, g) for genotype in sampler.history for i, g in enumerate(genotype.genes)}
    positions = [("encoder", s, 0) for s in range(3)] + [("decoder", s, 0) for s in range(3)]  # gene order
    for i, (part, stage, block) in enumerate(positions):
        for choice in range(4):
            candidate = getattr(network, part)[stage][block][choice]
            has_state = any(p in optimizer.state for p in candidate.parameters())
            # gradients reset to None: a candidate no sampled path used has no AdamW state (no decay, no moments)
            assert has_state == ((i, choice) in used), (part, stage, choice)


def test_search_writes_record_plot_and_genotype(pipeline):
    root, _ = pipeline
    record = json.loads((root / "models" / "search" / "search.json").read_text())
    assert record["completed_generations"] == 2
    assert record["settings"]["population"] == 4 and record["settings"]["image_size"] == [64, 64]
    assert len(record["candidates"]) == 8
    genotypes = [tuple(c["genotype"]) for c in record["candidates"]]
    assert len(set(genotypes)) == 8 and all(len(g) == N_GENES for g in genotypes)
    assert all(len(c["score"]) == 2 and 0 <= c["score"][0] <= c["score"][1] <= 1 for c in record["candidates"])
    best = max(record["candidates"], key=lambda c: tuple(c["score"]))
    assert record["best"]["genotype"] == best["genotype"]
    assert record["score_names"] == ["iou", "dice"]
    assert (root / "models" / "search" / "search_progress.png").stat().st_size > 1000
    genotype = Genotype.from_json(root / "models" / "genotype.json", TINY_NET["depths"], TINY_NET["depths_decoder"])
    assert list(genotype.genes) == best["genotype"]


def test_search_resumes_from_its_record(pipeline):
    root, _ = pipeline
    path = root / "models" / "search" / "search.json"
    before = json.loads(path.read_text())
    search_overrides = overrides(root, **{**SMALL_SEARCH, "generations": 3})
    run_workflow(CONFIGS, configs("train.json", "search.json"), None, **search_overrides)
    after = json.loads(path.read_text())
    assert after["completed_generations"] == 3
    assert after["candidates"][:8] == before["candidates"]  # kept, not re-scored
    assert len(after["candidates"]) == 12 and {c["generation"] for c in after["candidates"][8:]} == {2}
    assert after["seed"] == before["seed"]
    # the best genotype file follows the record
    assert json.loads((root / "models" / "genotype.json").read_text())["genotype"] == after["best"]["genotype"]


def test_retrain_builds_the_searched_genotype(pipeline):
    root, workflows = pipeline
    genotype = json.loads((root / "models" / "genotype.json").read_text())["genotype"]
    network = workflows["retrain"].parser.get_parsed_content("network")
    assert isinstance(network, SliceMamba) and list(network.genotype.genes) == genotype
    state = torch.load(root / "models" / "model.pt", map_location="cpu", weights_only=True)
    assert state["_extra_state"]["genotype"] == genotype  # the weights say which strips they were trained with
    net = SliceMamba(**TINY_NET)
    net.load_state_dict(state)
    assert list(net.genotype.genes) == genotype
    assert len(list((root / "models").glob("checkpoint*epoch=1.pt"))) == 1
    assert (root / "eval" / "training_curves.png").is_file()
    assert (root / "eval" / "supernet_training_curves.png").is_file()


def test_evaluate_writes_per_image_csv_summary_and_overlays(pipeline):
    root, _ = pipeline
    run_workflow(CONFIGS, configs("train.json", "evaluate.json"), "eval", **overrides(root))
    datalist = json.loads((root / "data" / "datalist.json").read_text())
    n_test = len(datalist["testing"])
    summary = json.loads((root / "eval" / "metrics_summary.json").read_text())
    assert summary["num_cases"] == summary["num_images"] == n_test >= 1
    metrics = summary["metrics"]
    for name in ("dice", "iou", "pooled_dice", "pooled_iou", "accuracy", "sensitivity", "specificity"):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["iou"] <= metrics["dice"] + 1e-6 and metrics["pooled_iou"] <= metrics["pooled_dice"] + 1e-6
    assert "empty" in summary["conventions"]["dice, iou (per image)"]
    rows = (root / "eval" / "metrics_per_image.csv").read_text().strip().splitlines()
    assert rows[0] == "case,dice,iou,isic_jaccard,hd95"
    ious = [float(r.split(",")[2]) for r in rows[1:]]
    isic = [float(r.split(",")[3]) for r in rows[1:]]
    assert isic == pytest.approx([iou if iou >= 0.65 else 0.0 for iou in ious], abs=1e-6)  # ISIC 2018 Task 1
    assert np.isclose(np.mean(isic), metrics["isic_jaccard"], atol=1e-5)
    stems = sorted(Path(d["image"]).stem for d in datalist["testing"])
    assert sorted(r.split(",")[0] for r in rows[1:]) == stems
    assert np.isclose(np.mean([float(r.split(",")[1]) for r in rows[1:]]), metrics["dice"], atol=1e-5)
    overlays = sorted(p.name for p in (root / "eval" / "overlays").glob("*.png"))
    assert overlays == [f"{s}_overlay.png" for s in stems]


def test_inference_writes_masks_at_original_sizes(pipeline, tmp_path):
    root, _ = pipeline
    images = tmp_path / "in"
    images.mkdir()
    rng = np.random.default_rng(0)
    sizes = {"wide.jpg": (50, 90), "tall.png": (100, 37), "square.png": (64, 64)}
    for name, (h, w) in sizes.items():
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(images / name)
    Image.fromarray(rng.integers(0, 255, (33, 47), dtype=np.uint8), mode="L").save(images / "grey.png")
    sizes["grey.png"] = (33, 47)
    over = overrides(root, input=str(images), output_dir=str(tmp_path / "out"))
    over.pop("data_list_file_path")
    run_workflow(CONFIGS, str(CONFIGS / "inference.json"), "infer", **over)
    written = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert written == sorted(f"{Path(n).stem}_mask.png" for n in sizes)
    for name, size in sizes.items():
        mask = np.asarray(Image.open(tmp_path / "out" / f"{Path(name).stem}_mask.png"))
        assert mask.shape == size and mask.dtype == np.uint8  # (H, W) of the input, not the network's 64 x 64
        assert set(np.unique(mask).tolist()) <= {0, 255}


def test_multi_gpu_supernet_runs_with_gloo_on_two_cpu_processes(tmp_path):
    write_synthetic_dermoscopy(tmp_path / "data", n_images=20, size=(64, 64), seed=2)  # >= 2 validation images
    files = configs("train.json", "train_supernet.json", "multi_gpu_train.json")
    result = run_under_torchrun(files, CONFIGS / "logging.conf", overrides(tmp_path))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    models = tmp_path / "models"
    assert len(list(models.glob("supernet_checkpoint*epoch=1.pt"))) == 1  # rank 0 alone saves
    state = torch.load(models / "supernet.pt", map_location="cpu", weights_only=True)
    assert not any(k.startswith("module.") for k in state)  # saved without the DDP wrapper
    SliceMambaSupernet(**TINY_NET).load_state_dict(state)
    assert not (models / "model.pt").exists()


def test_multi_gpu_retrain_runs_with_gloo_on_two_cpu_processes(tmp_path):
    write_synthetic_dermoscopy(tmp_path / "data", n_images=20, size=(64, 64), seed=3)
    (tmp_path / "models").mkdir()
    Genotype.uniform(0, TINY_NET["depths"], TINY_NET["depths_decoder"]).to_json(tmp_path / "models" / "genotype.json")
    run_multi_gpu_on_cpu(CONFIGS, overrides(tmp_path))  # checks the epoch-1 checkpoint, model.pt and the curves
    state = torch.load(tmp_path / "models" / "model.pt", map_location="cpu", weights_only=True)
    assert state["_extra_state"]["genotype"] == [0] * N_GENES


def test_masks_0_1_png_and_kvasir_jpeg_become_binary_labels(tmp_path):
    """The training transforms read 0/255 and 0/1 PNG masks and near-binary JPEG masks (Kvasir-SEG) as the same 0/1
    label, and grey-level images as 3 channels."""
    write_synthetic_dermoscopy(tmp_path / "kvasir", n_images=2, size=(48, 64), seed=4, layout="kvasir")
    image = tmp_path / "kvasir" / "images" / "synthetic_0000.jpg"
    jpeg_mask = tmp_path / "kvasir" / "masks" / "synthetic_0000.jpg"
    reference = np.asarray(Image.open(jpeg_mask)) > 127
    Image.fromarray(reference.astype(np.uint8), mode="L").save(tmp_path / "mask01.png")
    Image.fromarray(reference.astype(np.uint8) * 255, mode="L").save(tmp_path / "mask255.png")
    Image.open(image).convert("L").save(tmp_path / "grey.png")
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / "train.json")])
    parser.update({"image_size": [48, 64]})  # keep the files' size: no resampling of the masks
    transform = parser.get_parsed_content("validate#preprocessing")
    labels = []
    for mask in (jpeg_mask, tmp_path / "mask01.png", tmp_path / "mask255.png"):
        item = transform({"image": str(tmp_path / "grey.png"), "label": str(mask)})
        assert item["image"].shape == (3, 48, 64) and item["label"].shape == (1, 48, 64)
        assert set(np.unique(item["label"].numpy()).tolist()) == {0.0, 1.0}
        labels.append(item["label"].numpy()[0] > 0.5)
    assert np.array_equal(labels[1], reference) and np.array_equal(labels[2], reference)
    assert np.mean(labels[0] != reference) < 0.01  # JPEG: the same mask up to compression at the outline


# --- bad input ---------------------------------------------------------------------------------------------------
def _train_error(root: Path, files=("train.json", "train_supernet.json"), **extra) -> list[str]:
    with pytest.raises(Exception) as err:
        run_workflow(CONFIGS, configs(*files), "train", **overrides(root, **extra))
    return error_messages(err.value)


@pytest.fixture
def lesion_data(tmp_path):
    data = tmp_path / "data"
    write_synthetic_dermoscopy(data, n_images=6, size=(64, 64), seed=1)
    return data


def test_training_data_with_image_and_mask_of_different_sizes(tmp_path, lesion_data):
    mask = lesion_data / "masks" / "ISIC_0000002_segmentation.png"
    Image.open(mask).resize((40, 64)).save(mask)
    messages = _train_error(tmp_path)
    assert any("ISIC_0000002.jpg" in m and "64 x 64" in m and "64 x 40" in m for m in messages), messages


def test_training_data_with_non_binary_mask(tmp_path, lesion_data):
    mask = lesion_data / "masks" / "ISIC_0000004_segmentation.png"
    values = np.asarray(Image.open(mask)).copy()
    values[:8, :8] = 128
    Image.fromarray(values).save(mask)
    messages = _train_error(tmp_path)
    assert any("ISIC_0000004_segmentation.png" in m and "128" in m for m in messages), messages


def test_training_image_without_mask(tmp_path, lesion_data):
    (lesion_data / "masks" / "ISIC_0000001_segmentation.png").unlink()
    messages = _train_error(tmp_path)
    assert any("ISIC_0000001.jpg" in m and "has no mask" in m for m in messages), messages


@pytest.mark.parametrize(
    "genes,expected",
    [([3, 3, 3, 3, 3], "has 5 genes, expected 6"), ([3, 3, 7, 3, 3, 3], "gene 2 (encoder stage 2, block 0) is 7")],
)
def test_retrain_rejects_a_bad_genotype_file(tmp_path, lesion_data, genes, expected):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "genotype.json").write_text(json.dumps({"genotype": genes}))
    messages = _train_error(tmp_path, files=("train.json",))
    assert any("genotype.json" in m and expected in m for m in messages), messages


def test_search_without_supernet_says_what_to_run(tmp_path, lesion_data):
    with pytest.raises(Exception) as err:
        run_workflow(CONFIGS, configs("train.json", "search.json"), None, **overrides(tmp_path, **SMALL_SEARCH))
    messages = error_messages(err.value)
    assert any("supernet.pt" in m and "train_supernet.json" in m for m in messages), messages


def test_verify_net_in_out():
    assert_verify_net_in_out(
        CONFIGS,
        "--n", "1", "--any", "1",
        "--network_def#genotype", "[0, 0, 0, 0, 0, 0, 0, 0]",
        "--dims", "[8,16,32,64]", "--depths", "[1,1,1,1]", "--depths_decoder", "[1,1,1,1]",
    )  # fmt: skip
