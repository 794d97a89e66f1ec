"""Bundle options typed on the command line (strings) mean what they say, or are refused naming the option."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mamba_monai.data import ensure_brats_datalist, ensure_classification_datalist, ensure_lesion_datalist
from mamba_monai.utils.options import as_bool, as_int, as_optional

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"


@pytest.mark.parametrize("value", [True, "true", "True", "TRUE", "1", 1, "yes", "on"])
def test_true_spellings(value):
    assert as_bool(value, "resume") is True


@pytest.mark.parametrize("value", [False, "false", "False", "0", 0, "no", "off"])
def test_false_spellings(value):
    assert as_bool(value, "resume") is False


@pytest.mark.parametrize("value", ["maybe", "", None, 2, [1]])
def test_anything_else_is_refused_naming_the_option(value):
    with pytest.raises(ValueError, match="option 'resume' must be true or false"):
        as_bool(value, "resume")


@pytest.mark.parametrize("value", [None, "None", "null", "NULL", " "])
def test_none_spellings(value):
    assert as_optional(value, "csv_file") is None


def test_optional_keeps_real_values():
    assert as_optional("labels.csv", "csv_file") == "labels.csv"
    assert as_optional(0, "x") == 0


@pytest.mark.parametrize("value, expected", [("8", 8), (8, 8), (3.0, 3)])
def test_int_from_the_command_line(value, expected):
    assert as_int(value, "epochs", minimum=1) == expected


@pytest.mark.parametrize("value", ["abc", "1.5", 1.5, True, None])
def test_int_refuses_non_numbers_naming_the_option(value):
    with pytest.raises(ValueError, match="option 'epochs' must be a whole number"):
        as_int(value, "epochs")


def test_int_minimum():
    with pytest.raises(ValueError, match="option 'epochs' must be at least 1, got 0"):
        as_int("0", "epochs", minimum=1)


@pytest.mark.parametrize("spelling", ["false", "False", "0", "no"])
def test_brats_synthetic_if_empty_false_writes_nothing(tmp_path, spelling):
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises((ValueError, FileNotFoundError)):
        ensure_brats_datalist(data, tmp_path / "datalist.json", synthetic_if_empty=spelling)
    assert not any(data.iterdir()), "synthetic data written although synthetic_if_empty was false"


def test_lesion_synthetic_if_empty_false_writes_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises((ValueError, FileNotFoundError)):
        ensure_lesion_datalist(data, tmp_path / "datalist.json", synthetic_if_empty="false")
    assert not any(data.iterdir())


@pytest.mark.parametrize("spelling", ["None", "null", "false", None])
def test_classification_synthetic_off_writes_nothing(tmp_path, spelling):
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(ValueError):
        ensure_classification_datalist(data, tmp_path / "datalist.json", synthetic=spelling)
    assert not any(data.iterdir())


def test_bad_synthetic_if_empty_is_refused_naming_it(tmp_path):
    with pytest.raises(ValueError, match="synthetic_if_empty"):
        ensure_brats_datalist(tmp_path / "data", tmp_path / "datalist.json", synthetic_if_empty="maybe")


def _options(name: str) -> dict:
    train = json.loads((BUNDLES / name / "configs" / "train.json").read_text())
    return {key: value for key, value in train.items() if key in ("synthetic", "synthetic_if_empty", "resume")}


@pytest.mark.parametrize("bundle", sorted(p.name for p in BUNDLES.glob("*/configs/train.json") for p in [p.parents[1]]))
def test_no_bundle_generates_synthetic_data_unless_asked(bundle):
    """train.json as shipped never fills a data folder with synthetic data; demo.json asks for it explicitly."""
    options = _options(bundle)
    assert options.get("synthetic") in (None,) and options.get("synthetic_if_empty", False) is False
    assert options["resume"] is False
    demo = json.loads((BUNDLES / bundle / "configs" / "demo.json").read_text())
    assert demo.get("synthetic") or demo.get("synthetic_if_empty") is True


@pytest.mark.parametrize("bundle", sorted(p.parents[1].name for p in BUNDLES.glob("*/configs/train.json")))
def test_epochs_typed_wrong_names_the_option(bundle):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(BUNDLES / bundle / "configs" / "train.json"))
    parser["epochs"] = "abc"
    with pytest.raises(Exception) as error:
        parser.get_parsed_content("num_epochs")
    chain, seen = [], error.value
    while seen is not None:
        chain.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    assert any("option 'epochs' must be a whole number, got 'abc'" in m for m in chain), chain
    parser["epochs"] = "3"
    assert parser.get_parsed_content("num_epochs", lazy=False) == 3


_PARSED_OPTION = re.compile(r"mamba_monai\.utils\.as_(bool|optional|int)\(@(\w+), '(\w+)'")


@pytest.mark.parametrize("bundle", sorted(p.parents[1].name for p in BUNDLES.glob("*/configs/train.json")))
def test_every_parsed_option_exists_and_is_named_as_itself(bundle):
    """Every boolean / optional / integer option a config parses goes through utils.options with its own name (so
    the spellings above apply and a bad value names it), and is defined by the bundle."""
    configs = {p.name: json.loads(p.read_text()) for p in (BUNDLES / bundle / "configs").glob("*.json")}
    defined = {key for config in configs.values() for key in config}
    found = [(name, m.group(2), m.group(3)) for name, config in configs.items()
             for m in _PARSED_OPTION.finditer(json.dumps(config))]  # fmt: skip
    assert found, "no option is parsed through mamba_monai.utils"
    for name, reference, label in found:
        assert reference == label, f"{name}: @{reference} is parsed under the name '{label}'"
        assert reference in defined, f"{name}: option '{reference}' is not defined in {bundle}/configs"
