"""BratsOfficialMetricsWriter's lifecycle and case ids, with the official engine replaced by a stand-in (the real one
is compared with the official command line in tests/metrics/test_brats_official.py)."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor

from mamba_monai.engines.handlers import brats_official_writer
from mamba_monai.engines.handlers.brats_official_writer import BratsOfficialMetricsWriter


@pytest.fixture
def written(monkeypatch):
    """The rows of every table written, with the official engine replaced by a count of each case's ET voxels."""
    tables = []
    monkeypatch.setattr(brats_official_writer, "official_evaluator", lambda config: f"evaluator {config}")
    monkeypatch.setattr(
        brats_official_writer,
        "official_case_metrics",
        lambda prediction, reference, evaluator, coding, spacing: {"et_voxels": float((prediction == 3).sum())},
    )
    monkeypatch.setattr(
        brats_official_writer, "write_official_tables", lambda result, path, info: tables.append((path, result.rows))
    )
    return tables


def case(name=None, filename=None, et=1):
    pred = torch.zeros(3, 4, 4, 4)
    pred[:, 0, 0, :et] = 1  # nested regions: `et` voxels of ET (label 3)
    if filename:
        pred = MetaTensor(pred, meta={"filename_or_obj": filename})
    item = {"pred": pred, "label": pred.clone()}
    if name:
        item["case"] = name
    return item


def test_rows_per_round_named_by_case_then_file_then_index(tmp_path, written):
    def named_by_round(engine, batch):  # the named case is named after the round, so rounds differ
        return [
            dict(item, case=f"{item['case'].rstrip('/')}-round{engine.state.epoch}") if "case" in item else item
            for item in batch
        ]

    writer = BratsOfficialMetricsWriter(tmp_path)
    engine = Engine(named_by_round)
    writer.attach(engine)
    writer.attach(engine)  # a second attach registers once
    batches = [[case("/data/BraTS-GLI-1/", et=2), case(filename="/d/BraTS-GLI-2/BraTS-GLI-2-t2f.nii.gz")], [case(et=3)]]
    engine.run(batches, max_epochs=2)  # two rounds of two iterations: each table holds only its round's cases
    assert [path for path, _ in written] == [tmp_path / "metrics_official"] * 2
    for round_number, (_, rows) in enumerate(written, start=1):
        assert rows == {
            f"BraTS-GLI-1-round{round_number}": {"et_voxels": 2.0},  # a case-folder path gives its name
            "BraTS-GLI-2": {"et_voxels": 1.0},  # from the prediction's file name
            "case_0002": {"et_voxels": 3.0},
        }


def test_without_the_official_packages_it_warns_and_registers_nothing(tmp_path, monkeypatch):
    def missing(config):
        raise RuntimeError("not installed")

    monkeypatch.setattr(brats_official_writer, "official_evaluator", missing)
    engine = Engine(lambda e, batch: batch)
    with pytest.warns(UserWarning, match="official BraTS metrics are not computed"):
        BratsOfficialMetricsWriter(tmp_path).attach(engine)
    engine.run([[case("a")]], max_epochs=1)
    assert not list(tmp_path.iterdir())


def test_distances_use_the_reference_voxel_size(tmp_path, monkeypatch):
    spacings = []
    monkeypatch.setattr(brats_official_writer, "official_evaluator", lambda config: "evaluator")
    monkeypatch.setattr(
        brats_official_writer,
        "official_case_metrics",
        lambda prediction, reference, evaluator, coding, spacing: spacings.append(spacing) or {"n": 1.0},
    )
    monkeypatch.setattr(brats_official_writer, "write_official_tables", lambda result, path, info: None)
    item = case("a")
    item["label"] = MetaTensor(item["label"], affine=torch.diag(torch.tensor([0.5, 1.0, 2.0, 1.0])))
    engine = Engine(lambda e, batch: batch)
    BratsOfficialMetricsWriter(tmp_path).attach(engine)
    engine.run([[item, case("b")]], max_epochs=1)
    assert spacings == [(0.5, 1.0, 2.0), None]  # a plain tensor has no voxel size: the engine counts in voxels


def _gather_on_rank(rank: int, init_file: str, results: dict) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        rows = {f"case{rank}": {"dsc": float(rank)}, "padded": {"dsc": 9.0}}  # DistributedSampler repeats a case
        results[rank] = brats_official_writer.gather_rows(rows)
    finally:
        torch.distributed.destroy_process_group()


def test_distributed_rounds_gather_every_rank_rows(tmp_path):
    manager = torch.multiprocessing.get_context("spawn").Manager()
    results = manager.dict()
    torch.multiprocessing.spawn(_gather_on_rank, args=(str(tmp_path / "init"), results), nprocs=2, join=True)
    expected = {"case0": {"dsc": 0.0}, "case1": {"dsc": 1.0}, "padded": {"dsc": 9.0}}
    assert dict(results) == {0: expected, 1: expected}
    assert brats_official_writer.gather_rows({"a": {"dsc": 1.0}}) == {"a": {"dsc": 1.0}}  # one process: unchanged
