"""``mamba-monai convert --from FAMILY IN OUT``: the fire-facing function, and the installed command once wired."""

from __future__ import annotations

import subprocess
import sys

import fire
import pytest
import torch

from mamba_monai.convert.cli import convert_command
from tests.convert.fixture_tools import load_fixture


@pytest.fixture()
def medmamba_file(tmp_path):
    path = tmp_path / "medmamba_original.pth"
    torch.save({"model": load_fixture("medmamba")["state_dict"], "epoch": 1}, path)
    return path


def test_fire_accepts_from(medmamba_file, tmp_path, capsys):
    out = tmp_path / "out" / "model.pt"
    fire.Fire(convert_command, command=["--from", "medmamba", str(medmamba_file), str(out)], name="convert")
    printed = capsys.readouterr().out
    assert "family:   medmamba" in printed and "185 converted" in printed and str(out) in printed
    assert "stages.0.0.ss2d.ssm.A_logs" in torch.load(out, weights_only=True)


def test_fire_reports_errors_without_traceback(medmamba_file, tmp_path):
    with pytest.raises(SystemExit, match=r"mamba-monai convert: .*looks like a medmamba checkpoint.*not senet"):
        fire.Fire(convert_command, command=["--from", "senet", str(medmamba_file), str(tmp_path / "o.pt")])
    with pytest.raises(SystemExit, match=r"usage: mamba-monai convert --from \{medmamba,"):
        fire.Fire(convert_command, command=[str(medmamba_file), str(tmp_path / "o.pt")])
    with pytest.raises(SystemExit, match=r"unknown option\(s\) --frm"):
        fire.Fire(convert_command, command=["--frm", "senet", str(medmamba_file), str(tmp_path / "o.pt")])


def test_slicemamba_genotype_on_the_command_line(tmp_path, capsys):
    fixture = load_fixture("slicemamba")
    path = tmp_path / "best.pth"
    torch.save(fixture["state_dict"], path)
    genotype = "[" + ",".join(map(str, fixture["genotype"])) + "]"
    fire.Fire(
        convert_command,
        command=["--from", "slicemamba", str(path), str(tmp_path / "m" / "model.pt"), "--genotype", genotype],
    )
    assert (tmp_path / "m" / "genotype.json").is_file()
    assert "genotype.json" in capsys.readouterr().out


def _wired() -> bool:
    from mamba_monai.cli import MambaMonaiCLI

    return hasattr(MambaMonaiCLI, "convert")


@pytest.mark.skipif(not _wired(), reason="`convert` is not on mamba_monai.cli.MambaMonaiCLI yet")
def test_installed_command_end_to_end(medmamba_file, tmp_path):
    out = tmp_path / "model.pt"
    command = [sys.executable, "-m", "mamba_monai.cli", "convert", "--from", "medmamba", str(medmamba_file), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "family:   medmamba" in done.stdout and out.is_file()
    bad = subprocess.run(
        command[:-3] + ["segmamba", str(medmamba_file), str(tmp_path / "x.pt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "use --from medmamba" in bad.stderr
