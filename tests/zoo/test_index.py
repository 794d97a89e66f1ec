"""The model_info.json index: keys, version order, clear errors, source resolution."""

from __future__ import annotations

import pytest

from mamba_monai.zoo.index import index_entries, resolve_entry, resolve_source, split_key

SHA = "a" * 40
INDEX = {
    "seg_v0.9.1": {"checksum": SHA, "source": "seg_v0.9.1.zip"},
    "seg_v0.10.0": {"checksum": "B" * 40, "source": "https://host/seg_v0.10.0.zip"},
    "seg_v0.2.0": {"checksum": SHA, "source": "seg_v0.2.0.zip"},
    "cls_v1_v0.1.0": {"checksum": SHA, "source": "cls_v1_v0.1.0.zip"},
}


def test_keys_split_at_the_last_v():
    assert split_key("cls_v1_v0.1.0") == ("cls_v1", "0.1.0")
    with pytest.raises(ValueError, match="<name>_v<version>"):
        split_key("noversion")


def test_newest_version_by_version_order_not_string_order():
    entry = resolve_entry(INDEX, "seg")
    assert (entry.version, entry.checksum) == ("0.10.0", "b" * 40)  # checksum normalised to lower case
    assert resolve_entry(INDEX, "seg", "0.2.0").source == "seg_v0.2.0.zip"
    assert resolve_entry(INDEX, "cls_v1").version == "0.1.0"


def test_unknown_name_lists_available_bundles_and_versions():
    with pytest.raises(ValueError) as err:
        resolve_entry(INDEX, "segm", location="http://zoo/model_info.json")
    message = str(err.value)
    assert "'segm'" in message and "http://zoo/model_info.json" in message
    assert "cls_v1 (0.1.0); seg (0.2.0, 0.9.1, 0.10.0)" in message


def test_unknown_version_lists_the_versions():
    with pytest.raises(ValueError, match=r"no version '9\.9\.9'.*available versions: 0\.2\.0, 0\.9\.1, 0\.10\.0"):
        resolve_entry(INDEX, "seg", "9.9.9")


@pytest.mark.parametrize(
    "value, problem",
    [({"checksum": "xyz", "source": "a.zip"}, "40 hex"), ({"checksum": SHA}, "source"), ("a.zip", "source")],
)
def test_malformed_entries_are_named(value, problem):
    with pytest.raises(ValueError, match=problem) as err:
        index_entries({"seg_v0.1.0": value}, "idx.json")
    assert "seg_v0.1.0" in str(err.value) and "idx.json" in str(err.value)


def test_relative_sources_resolve_against_the_index_location(tmp_path):
    assert resolve_source("a_v1.zip", "http://h:8/zoo/model_info.json") == "http://h:8/zoo/a_v1.zip"
    assert resolve_source("https://other/a.zip", "http://h:8/zoo/model_info.json") == "https://other/a.zip"
    assert resolve_source("a_v1.zip", tmp_path / "zoo" / "model_info.json") == (tmp_path / "zoo" / "a_v1.zip").as_uri()
