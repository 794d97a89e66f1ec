"""Our BraTS figures equal the official evaluation's (``brats-evaluate`` + ``brats-parse-metrics seg`` of the
brats-evaluation package, run as a user runs them) on small synthetic cases: several lesions, a missed lesion, a
spurious lesion, an empty reference, an empty prediction, and a case without a prediction file."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

if not os.environ.get("CI"):  # in CI the test extra installs them: a missing package must fail there, not skip
    pytest.importorskip("panoptica", reason="official BraTS metrics need pip install 'mamba-monai[brats]'")
    pytest.importorskip("brats_evaluation", reason="official BraTS metrics need pip install 'mamba-monai[brats]'")

from mamba_monai.metrics.brats_folders import case_name, evaluate_folders, match_cases, write_official_tables
from mamba_monai.metrics.brats_official import HD95_PENALTY, to_2023_coding

SHAPE = (32, 32, 24)


def _tumour(volume: np.ndarray, corner: tuple[int, int, int], size: int, shift: int = 0) -> None:
    """A nested tumour (2023 coding): oedema 2 around a core of necrosis 1 and enhancing tumour 3."""
    x, y, z = (c + shift for c in corner)
    volume[x : x + size, y : y + size, z : z + size] = 2
    volume[x + 1 : x + size - 1, y + 1 : y + size - 1, z + 1 : z + size - 1] = 3
    volume[x + 2 : x + size - 2, y + 2 : y + size - 2, z + 2 : z + size - 2] = 1


def synthetic_cases() -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """case -> (reference, prediction or None for no file), 2023 coding."""
    cases = {}
    ref, pred = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    _tumour(ref, (2, 2, 2), 8), _tumour(ref, (18, 18, 12), 9)
    _tumour(pred, (2, 2, 2), 8, shift=1), _tumour(pred, (18, 18, 12), 8)
    cases["00001-000"] = (ref, pred)  # several lesions, all found
    ref, pred = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    _tumour(ref, (2, 2, 2), 8), _tumour(ref, (20, 20, 12), 7)
    _tumour(pred, (3, 2, 2), 8)
    cases["00002-000"] = (ref, pred)  # a missed lesion
    ref, pred = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    _tumour(ref, (4, 4, 4), 9)
    _tumour(pred, (4, 5, 4), 9), _tumour(pred, (22, 22, 14), 6)
    cases["00003-000"] = (ref, pred)  # a spurious lesion
    ref, pred = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    _tumour(pred, (10, 10, 8), 7)
    cases["00004-000"] = (ref, pred)  # empty reference
    ref, pred = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    _tumour(ref, (10, 10, 8), 7)
    cases["00005-000"] = (ref, pred)  # empty prediction
    ref = np.zeros(SHAPE, np.uint8)
    _tumour(ref, (6, 6, 6), 8)
    cases["00006-000"] = (ref, None)  # no prediction file
    return cases


def _save(array: np.ndarray, path: Path, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, np.diag([*spacing, 1.0])), str(path))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """BraTS 2023 names and coding for the official tool; our names and the 2021 coding (ET = 4) for the same cases."""
    root = tmp_path_factory.mktemp("brats_official")
    for number, (ref, pred) in synthetic_cases().items():
        _save(ref, root / "ref" / f"BraTS-GLI-{number}-seg.nii.gz")
        _save(np.where(ref == 3, 4, ref).astype(np.uint8), root / "ref2021" / f"BraTS2021_{number[:5]}_seg.nii.gz")
        if pred is not None:
            _save(pred, root / "pred" / f"BraTS-GLI-{number}.nii.gz")
            pred2021 = np.where(pred == 3, 4, pred).astype(np.uint8)
            _save(pred2021, root / "pred2021" / f"BraTS2021_{number[:5]}_seg.nii.gz")
    return root


# The official tool reads NIfTI through SimpleITK (panoptica tries it before nibabel): the array comes in (z, y, x)
# order, the spacing in (x, y, z) order, so for voxels whose x and z sizes differ its distances pair each axis with
# the other's size. A spacing that reads the same reversed is unaffected: there the tool's figures are the physical
# ones, and ours must equal them.
PALINDROMIC = (2.0, 1.0, 2.0)
SKEWED = (0.8, 1.0, 2.5)


def anisotropic_folders(root: Path, spacing: tuple[float, float, float]) -> Path:
    """The synthetic cases with anisotropic voxels (mm) in the NIfTI headers."""
    for number, (ref, pred) in synthetic_cases().items():
        _save(ref, root / "ref" / f"BraTS-GLI-{number}-seg.nii.gz", spacing)
        if pred is not None:
            _save(pred, root / "pred" / f"BraTS-GLI-{number}.nii.gz", spacing)
    return root


@pytest.fixture(scope="module")
def official(folders):
    return run_official_tool(folders)


def run_official_tool(folders: Path) -> dict:
    """The official tool's per-case table, by case number; run as its README says."""
    bin_dir = Path(sys.executable).parent
    summary, table = folders / "official.json", folders / "official.csv"
    for command in (
        [str(bin_dir / "brats-evaluate"), "--ref_path", str(folders / "ref"), "--pred_path", str(folders / "pred"),
         "--config", "gli", "--summary_json", str(summary)],
        [str(bin_dir / "brats-parse-metrics"), "seg", "--json_path", str(summary), "--output_csv_path", str(table)],
    ):  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with open(table, newline="") as f:
        rows = {r["subject_id"]: r for r in csv.DictReader(f)}
    return {case_name(k): v for k, v in rows.items() if k not in ("mean", "std", "median")}


def _same(ours: float, theirs: str) -> bool:
    expected = float(theirs) if theirs not in ("", None) else math.nan
    if math.isnan(expected) or math.isnan(ours):
        return math.isnan(expected) and math.isnan(ours)
    if math.isinf(expected) or math.isinf(ours):
        return expected == ours
    return abs(ours - expected) <= 1e-3


def assert_equal_to_official(result, official: dict) -> None:
    assert set(result.rows) == set(official) == {f"BraTS-GLI-{n}" for n in synthetic_cases()}
    assert result.missing_predictions == ["BraTS-GLI-00006-000"] and result.missing_references == []
    compared = 0
    for case, theirs in official.items():
        ours = result.rows[case]
        common = [c for c in theirs if c in ours]
        assert len(common) >= 6 * 15, f"{case}: only {len(common)} common columns"
        for column in common:
            assert _same(ours[column], theirs[column]), (
                f"{case} {column}: ours {ours[column]}, official {theirs[column]}"
            )
            compared += 1
    assert compared >= 6 * 6 * 15


def test_every_case_and_figure_equals_the_official_tool(folders, official):
    result = evaluate_folders(folders / "ref", folders / "pred", coding="2023", progress=False)
    assert_equal_to_official(result, official)
    # the cases exercise what they claim: a missed lesion, a spurious one, empty sides, the missing-file penalty
    assert result.rows["BraTS-GLI-00002-000"]["all_instance_fn_wt"] == 1
    assert result.rows["BraTS-GLI-00003-000"]["all_instance_fp_wt"] == 1
    assert result.rows["BraTS-GLI-00004-000"]["global_hd95_wt"] == HD95_PENALTY
    assert result.rows["BraTS-GLI-00005-000"]["global_dsc_tc"] == 0
    assert result.rows["BraTS-GLI-00006-000"]["global_hd95_et"] == HD95_PENALTY
    assert result.rows["BraTS-GLI-00001-000"]["all_instance_tp_wt"] == 2


def test_2021_coding_and_our_file_names_give_the_same_figures(folders):
    ours2021 = evaluate_folders(folders / "ref2021", folders / "pred2021", coding="2021", progress=False)
    ours2023 = evaluate_folders(folders / "ref", folders / "pred", coding="2023", progress=False)
    assert [c[-5:] for c in ours2021.rows] == [c[-9:-4] for c in ours2023.rows]
    for (_, a), (_, b) in zip(ours2021.rows.items(), ours2023.rows.items()):
        assert a.keys() == b.keys() and all(_same(a[k], repr(b[k])) for k in a)


def test_tables_hold_cases_statistics_and_missing_cases(folders, tmp_path):
    result = evaluate_folders(folders / "ref", folders / "pred", coding="2023", progress=False)
    json_path, csv_path = write_official_tables(result, tmp_path / "metrics.json", {"coding": "2023"})
    document = json.loads(json_path.read_text())
    assert document["missing_predictions"] == ["BraTS-GLI-00006-000"] and document["num_cases"] == 6
    values = [row["global_dsc_wt"] for row in result.rows.values()]
    assert document["summary"]["mean"]["global_dsc_wt"] == pytest.approx(np.mean(values))
    assert document["summary"]["median"]["global_dsc_wt"] == pytest.approx(np.median(values))
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["case"] for r in rows][-3:] == ["mean", "std", "median"] and len(rows) == 9
    assert rows[5]["missing_prediction"] == "1" and float(rows[5]["global_hd95_tc"]) == HD95_PENALTY


def test_the_command_line_names_missing_cases_and_bad_folders(folders, tmp_path):
    command = [sys.executable, "-m", "mamba_monai.cli", "brats-metrics", str(folders / "ref"), str(folders / "pred"),
               "--coding", "2023", "--out", str(tmp_path / "m.json"), "--progress", "false"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "no prediction for 1 case(s)" in done.stdout and "BraTS-GLI-00006-000" in done.stdout
    assert (tmp_path / "m.json").is_file() and (tmp_path / "m.csv").is_file()
    command[5] = str(tmp_path / "nowhere")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "prediction folder" in done.stderr and "nowhere" in done.stderr


def test_matching_accepts_our_names_and_the_brats_names(tmp_path):
    volume = np.zeros((4, 4, 4), np.uint8)
    for name in ("BraTS2021_00007_seg.nii.gz", "BraTS-GLI-00008-000-seg.nii.gz", "case9.nii.gz"):
        _save(volume, tmp_path / "ref" / name)
    for name in ("BraTS2021_00007_seg.nii.gz", "prediction_00008-000.nii.gz", "other.nii.gz"):
        _save(volume, tmp_path / "pred" / name)
    pairs, missing, extra = match_cases(tmp_path / "ref", tmp_path / "pred")
    assert [(case, pred.name) for case, _, pred in pairs] == [
        ("BraTS-GLI-00008-000", "prediction_00008-000.nii.gz"), ("BraTS2021_00007", "BraTS2021_00007_seg.nii.gz")
    ]  # fmt: skip
    assert missing == ["case9"] and extra == ["other"]


def test_label_codings_are_checked():
    with pytest.raises(ValueError, match=r"labels \[3\] are not BraTS 2021 labels"):
        to_2023_coding(np.full((2, 2, 2), 3), "2021")
    with pytest.raises(ValueError, match="expected a 3D label map"):
        to_2023_coding(np.zeros((2, 2)), "2023")
    assert to_2023_coding(np.full((1, 2, 2, 2), 4), "2021").max() == 3


def test_anisotropic_voxels_give_the_official_distances(tmp_path, folders):
    root = anisotropic_folders(tmp_path, PALINDROMIC)
    result = evaluate_folders(root / "ref", root / "pred", coding="2023", progress=False)
    assert_equal_to_official(result, run_official_tool(root))
    # the voxel size is used: distances differ from the same cases with 1 mm voxels, overlaps do not
    isotropic = evaluate_folders(folders / "ref", folders / "pred", coding="2023", progress=False)
    case = "BraTS-GLI-00002-000"  # its predicted lesion is shifted by one voxel along the first axis
    assert isotropic.rows[case]["lesionwise_hd95_mean_et"] == pytest.approx(1.0)
    assert result.rows[case]["lesionwise_hd95_mean_et"] == pytest.approx(PALINDROMIC[0])
    assert result.rows[case]["global_dsc_wt"] == pytest.approx(isotropic.rows[case]["global_dsc_wt"])


def test_the_official_tool_pairs_axes_with_reversed_voxel_sizes(tmp_path):
    """Pins the official tool's behaviour documented above: where it changes (a fixed panoptica), our documentation
    (brats_official module docstring, SegMamba card) must follow."""
    root = anisotropic_folders(tmp_path, SKEWED)
    official = run_official_tool(root)
    ours = evaluate_folders(root / "ref", root / "pred", coding="2023", progress=False)
    case = "BraTS-GLI-00002-000"  # its predicted lesion is shifted by one voxel along the first axis (0.8 mm)
    assert ours.rows[case]["lesionwise_hd95_mean_et"] == pytest.approx(0.8, abs=1e-6)
    assert float(official[case]["lesionwise_hd95_mean_et"]) == pytest.approx(2.5, abs=1e-6)


def test_a_pair_with_different_voxel_sizes_is_refused_naming_the_case(tmp_path):
    ref, pred = synthetic_cases()["00001-000"]
    _save(ref, tmp_path / "ref" / "BraTS-GLI-00001-000-seg.nii.gz", (1.0, 1.0, 1.0))
    _save(pred, tmp_path / "pred" / "BraTS-GLI-00001-000.nii.gz", SKEWED)
    with pytest.raises(ValueError, match=r"case BraTS-GLI-00001-000 .*voxel sizes differ"):
        evaluate_folders(tmp_path / "ref", tmp_path / "pred", coding="2023", progress=False)
