"""Datalists for 2D image classification: from class folders or from a CSV, checked up front, split and written as
Decathlon-style JSON.

Accepted sources:

- a folder ``root/{train,val,test}/<class>/*`` (already split; ``training``/``valid``/``validation``/``testing``
  are accepted too, in any case), or ``root/<class>/*`` (split here). Images may sit in sub-folders of a class folder
  (e.g. one per patient);
- a CSV file with an image-path column and a label column (``,``, ``;``, tab or ``|`` separated), optionally a
  patient column so that no patient crosses splits. Relative paths are relative to the CSV's folder.

Class names are sorted (or given), and label ``i`` is the ``i``-th name. Everything that would otherwise fail hours
into training is checked before anything is written, each problem a ``ValueError`` that names the file or class:
missing files, files that do not open as images (header read with PIL / ITK / tifffile), images smaller than a
minimum size, empty class folders, CSV columns that are not there, and classes of the validation or test split that
training never sees.

The JSON looks like::

    {"classes": ["fetal_abdomen", ...],
     "training": [{"image": "imgs/a.png", "label": 0, "class_name": "fetal_abdomen"}, ...],
     "validation": [...], "testing": [...]}

with image paths relative to the JSON's folder; read it back with :func:`load_classification_datalist`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mamba_monai.data.image_io import is_image_file, read_image_2d, read_image_2d_info
from mamba_monai.data.splits import split_indices
from mamba_monai.utils.atomic_files import write_json_atomically
from mamba_monai.utils.listing import listing
from mamba_monai.utils.options import as_optional
from mamba_monai.data.synthetic.staging import check_not_interrupted, write_staged

__all__ = [
    "CLASSIFICATION_SPLITS",
    "ensure_classification_datalist",
    "load_classification_classes",
    "load_classification_datalist",
    "make_classification_datalist",
]

#: the keys of the splits in a classification datalist
CLASSIFICATION_SPLITS: tuple[str, str, str] = ("training", "validation", "testing")
_SPLIT_FOLDERS = {
    "train": "training",
    "training": "training",
    "val": "validation",
    "valid": "validation",
    "validation": "validation",
    "test": "testing",
    "testing": "testing",
}
_SYNTHETIC_KINDS = ("ultrasound", "microscopy")
_MAX_LISTED = 10  # problems listed in one error message


@dataclass
class _Item:
    path: Path  # absolute
    class_name: str
    origin: str  # where it was listed, for messages
    patient: str | None = None
    split: str | None = None  # given by a split folder


def make_classification_datalist(
    source: str | os.PathLike,
    output_json: str | os.PathLike,
    csv_image_column: str = "Image_path",
    csv_label_column: str = "Plane",
    patient_column: str | None = None,
    fractions: Sequence[float] = (0.64, 0.16, 0.20),
    seed: int = 0,
    classes: Sequence[str] | None = None,
    min_size: int | Sequence[int] | None = None,
    check_images: bool = True,
    image_root: str | os.PathLike | None = None,
    image_suffix: str = "",
    relative: bool = True,
) -> dict:
    """Check a classification data set, split it and write its Decathlon-style datalist JSON (atomically).

    Folders ``train``/``val``/``test`` are used as they are; a missing validation folder is carved out of training
    (stratified, ``fractions[1] / (fractions[0] + fractions[1])`` of it), a missing test folder gives an empty
    ``"testing"`` list (with a warning). Otherwise the images are split by
    :func:`mamba_monai.data.splits.split_indices` into ``fractions`` (training, validation, testing), stratified by
    class, seeded, and grouped by patient when ``patient_column`` is given.

    Args:
        source: a folder (class folders, with or without split folders) or a CSV file.
        output_json: where to write the JSON (its folder is created if needed).
        csv_image_column: CSV column of the image paths (absolute, or relative to ``image_root``).
        csv_label_column: CSV column of the class names.
        patient_column: optional CSV column of the patient ids: all images of a patient go to the same split.
        fractions: proportions of training, validation and testing.
        seed: seed of the split.
        classes: class names in label order; default: the names found, sorted (numerically when all are integers).
            Images of other classes are an error.
        min_size: smallest accepted image size, ``n`` (both sides) or ``(min_height, min_width)``.
        check_images: open the header of every image (size, readability); only existence is checked otherwise.
        image_root: folder that relative CSV paths start from; default: the CSV's folder.
        image_suffix: appended to CSV paths that do not end with it (e.g. ``".png"`` for ``Image_name`` columns).
        relative: write image paths relative to the JSON's folder (portable); absolute otherwise.

    Returns:
        the datalist that was written (paths as written).

    Raises:
        ValueError: for every problem with the data (see the module docstring); nothing is written then.
    """
    source = Path(source)
    output_json = Path(output_json).absolute()
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6 or fractions[0] == 0:
        raise ValueError(
            f"fractions must be (training, validation, testing), non-negative, adding up to 1, with some training; "
            f"got {fractions}"
        )
    if not source.exists():
        raise ValueError(f"classification data source '{source}' does not exist")
    if source.is_dir():
        if patient_column is not None:
            raise ValueError(
                f"patient_column={patient_column!r} needs a CSV source, but '{source}' is a folder: "
                "list the images with their patients in a CSV"
            )
        items = _items_from_folder(source)
        where = f"'{source}'"
    else:
        items = _items_from_csv(source, csv_image_column, csv_label_column, patient_column, image_root, image_suffix)
        where = f"CSV '{source}'"
    class_names = _class_names(items, classes, where)
    _check_files(items, check_images, _min_size(min_size))
    splits = _split(items, fractions, seed, grouped=patient_column is not None)
    _check_classes_seen_in_training(splits, where)

    def portable(path: Path) -> str:
        if not relative:
            return str(path)
        try:
            return Path(os.path.relpath(path, output_json.parent)).as_posix()
        except ValueError:  # another drive (Windows)
            return str(path)

    datalist: dict = {"classes": list(class_names)}
    label_of = {name: i for i, name in enumerate(class_names)}
    for key in CLASSIFICATION_SPLITS:
        entries = []
        for item in sorted(splits[key], key=lambda it: str(it.path)):
            entry = {"image": portable(item.path), "label": label_of[item.class_name], "class_name": item.class_name}
            if item.patient is not None:
                entry["patient"] = item.patient
            entries.append(entry)
        datalist[key] = entries
    write_json_atomically(output_json, datalist)
    return datalist


def ensure_classification_datalist(
    dataset_dir: str | os.PathLike,
    datalist_path: str | os.PathLike,
    synthetic: str | None = None,
    csv_file: str | None = None,
    csv_image_column: str = "Image_path",
    csv_label_column: str = "Plane",
    patient_column: str | None = None,
    fractions: Sequence[float] = (0.64, 0.16, 0.20),
    seed: int = 0,
    classes: Sequence[str] | None = None,
    min_size: int | Sequence[int] | None = None,
    n_per_class: int = 20,
    size: Sequence[int] = (128, 128),
) -> str:
    """Return ``datalist_path``, writing it first if it does not exist.

    An existing datalist is used as it is. Otherwise the data under ``dataset_dir`` (class folders, or the CSV
    ``dataset_dir/csv_file``) are checked and split by :func:`make_classification_datalist`. When ``dataset_dir``
    holds no image at all and ``synthetic`` names a kind, a SYNTHETIC demo set is written there first (with a warning
    saying so) by :func:`mamba_monai.data.synthetic.write_synthetic_ultrasound` or
    :func:`~mamba_monai.data.synthetic.write_synthetic_microscopy`, and split from its ``labels.csv``, grouped by its
    ``Patient`` column.

    Args:
        dataset_dir: folder of the data set.
        datalist_path: the datalist JSON to use or write.
        synthetic: ``"ultrasound"``, ``"microscopy"``, or ``None`` to fail on an empty ``dataset_dir``.
        csv_file: name of a CSV in ``dataset_dir`` listing the images; ``None`` for the folder layout.
        csv_image_column: CSV column of the image paths.
        csv_label_column: CSV column of the class names.
        patient_column: optional CSV column of the patient ids (grouped split).
        fractions: proportions of training, validation and testing.
        seed: seed of the split and of the synthetic data.
        classes: class names in label order (also the names of the synthetic classes); default: sorted names found.
        min_size: smallest accepted image size, ``n`` or ``(min_height, min_width)``.
        n_per_class: synthetic images per class.
        size: (H, W) of the synthetic images.

    Raises:
        ValueError: unknown ``synthetic`` kind; no data and no ``synthetic``; any problem with the data.
    """
    synthetic = as_optional(synthetic, "synthetic")
    if isinstance(synthetic, str) and synthetic.strip().lower() in ("false", "0", "no", "off"):
        synthetic = None
    csv_file, patient_column = as_optional(csv_file, "csv_file"), as_optional(patient_column, "patient_column")
    if synthetic is not None and synthetic not in _SYNTHETIC_KINDS:
        raise ValueError(f"synthetic must be one of {_SYNTHETIC_KINDS} or None, got {synthetic!r}")
    datalist_path = Path(datalist_path)
    if datalist_path.is_file():
        return str(datalist_path)
    dataset_dir = Path(dataset_dir)
    check_not_interrupted(dataset_dir)
    has_images = dataset_dir.is_dir() and any(p.is_file() and is_image_file(p) for p in dataset_dir.rglob("*"))
    if not has_images:
        if synthetic is None:
            raise ValueError(
                f"no datalist at '{datalist_path}' and no images under '{dataset_dir}': put the data set there "
                "(class folders or a CSV) or ask for synthetic demo data"
            )
        from mamba_monai.data.synthetic.image_folder import SYNTHETIC_CSV_COLUMNS

        writer = _synthetic_writer(synthetic)
        warnings.warn(
            f"No images under '{dataset_dir}': writing a SYNTHETIC {synthetic} demo data set there "
            f"({n_per_class} images per class, {tuple(size)} pixels). It is not real data: results on it say "
            "nothing about real images.",
            UserWarning,
            stacklevel=2,
        )
        kwargs = {"classes": tuple(classes)} if classes is not None else {}
        csv_path = write_staged(dataset_dir, writer, n_per_class=n_per_class, size=tuple(size), seed=seed, **kwargs)
        image_column, label_column, patient = SYNTHETIC_CSV_COLUMNS
        make_classification_datalist(
            csv_path, datalist_path, image_column, label_column, patient, fractions, seed, classes, min_size
        )
        return str(datalist_path)
    source = dataset_dir / csv_file if csv_file else dataset_dir
    make_classification_datalist(
        source, datalist_path, csv_image_column, csv_label_column, patient_column, fractions, seed, classes, min_size
    )
    return str(datalist_path)


def load_classification_datalist(path: str | os.PathLike, key: str = "training") -> list[dict]:
    """Read one split of a classification datalist, with image paths made absolute (relative ones are relative to
    the JSON's folder).

    Args:
        path: the datalist JSON.
        key: ``"training"``, ``"validation"``, ``"testing"`` (or any other list the file holds).

    Raises:
        ValueError: the file is missing or not a classification datalist, ``key`` is not in it, or an entry has no
            image or an integer label outside the class list.
    """
    path = Path(path)
    datalist = _read_datalist(path)
    if key not in datalist or not isinstance(datalist[key], list):
        lists = [k for k, v in datalist.items() if isinstance(v, list) and k != "classes"]
        raise ValueError(f"datalist '{path}' has no list {key!r}; it has {lists}")
    n_classes = len(datalist["classes"])
    entries = []
    for position, entry in enumerate(datalist[key]):
        if not isinstance(entry, dict) or "image" not in entry or "label" not in entry:
            raise ValueError(f"datalist '{path}': entry {position} of {key!r} needs 'image' and 'label': {entry!r}")
        label = entry["label"]
        if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < n_classes:
            raise ValueError(
                f"datalist '{path}': entry {position} of {key!r} ({entry['image']}) has label {label!r}, expected an "
                f"integer in [0, {n_classes}) for classes {datalist['classes']}"
            )
        image = Path(entry["image"])
        if not image.is_absolute():
            image = Path(os.path.normpath(path.parent.absolute() / image))
        entries.append({**entry, "image": str(image)})
    return entries


def load_classification_classes(path: str | os.PathLike) -> list[str]:
    """The class names of a classification datalist, in label order.

    Args:
        path: the datalist JSON.
    """
    return list(_read_datalist(Path(path))["classes"])


# ------------------------------------------------------------------------------------------------------- discovery


def _items_from_folder(root: Path) -> list[_Item]:
    subfolders = _visible_subfolders(root)
    split_folders: dict[str, Path] = {}
    for folder in subfolders:
        key = _SPLIT_FOLDERS.get(folder.name.lower())
        if key is None:
            continue
        if key in split_folders:
            raise ValueError(f"'{root}' has two {key} folders: '{split_folders[key].name}' and '{folder.name}'")
        split_folders[key] = folder
    if not split_folders:
        return _items_from_class_folders(root, split=None)
    if "training" not in split_folders:
        raise ValueError(
            f"'{root}' has split folders {sorted(p.name for p in split_folders.values())} but no 'train' folder"
        )
    others = [p.name for p in subfolders if p not in split_folders.values()]
    if others:
        raise ValueError(
            f"'{root}' mixes split folders ({sorted(p.name for p in split_folders.values())}) with other folders "
            f"{others}: use root/{{train,val,test}}/<class>/* or root/<class>/*"
        )
    items = []
    for key, folder in split_folders.items():
        items += _items_from_class_folders(folder, split=key)
    return items


def _items_from_class_folders(folder: Path, split: str | None) -> list[_Item]:
    stray = sorted(p.name for p in folder.iterdir() if p.is_file() and is_image_file(p))
    if stray:
        raise ValueError(
            f"'{folder}' holds images outside class folders ({_listing(stray)}): put each image in a folder named "
            "after its class"
        )
    class_folders = _visible_subfolders(folder)
    if not class_folders:
        raise ValueError(f"'{folder}' has no class folders: expected <class>/<image> (e.g. {folder}/benign/001.png)")
    items = []
    for class_folder in class_folders:
        images = sorted(
            p
            for p in class_folder.rglob("*")
            if p.is_file() and is_image_file(p) and not _hidden(p.relative_to(class_folder))
        )
        if not images:
            raise ValueError(f"class folder '{class_folder}' (class '{class_folder.name}') holds no images")
        items += [_Item(p.absolute(), class_folder.name, f"'{p}'", split=split) for p in images]
    return items


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.parts)


def _visible_subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "__MACOSX")


def _items_from_csv(
    csv_path: Path,
    image_column: str,
    label_column: str,
    patient_column: str | None,
    image_root: str | os.PathLike | None,
    image_suffix: str,
) -> list[_Item]:
    with open(csv_path, newline="", encoding="utf-8-sig") as stream:
        text = stream.read()
    if not text.strip():
        raise ValueError(f"CSV '{csv_path}' is empty")
    first_line = text.splitlines()[0]
    try:
        dialect = csv.Sniffer().sniff(first_line, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip() for name in next(reader)]
    wanted = {"image": image_column, "label": label_column}
    if patient_column is not None:
        wanted["patient"] = patient_column
    missing = [name for name in wanted.values() if name not in header]
    if missing:
        raise ValueError(
            f"CSV '{csv_path}' has no column {', '.join(repr(m) for m in missing)}; its columns are {header} "
            f"(separator {delimiter!r}): set csv_image_column / csv_label_column / patient_column"
        )
    index = {role: header.index(name) for role, name in wanted.items()}
    base = Path(image_root) if image_root is not None else csv_path.parent
    items, seen = [], {}
    for row in reader:
        line_number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise ValueError(f"CSV '{csv_path}' line {line_number} has {len(row)} fields, the header has {len(header)}")
        values = {role: row[i].strip() for role, i in index.items()}
        for role, value in values.items():
            if not value:
                raise ValueError(f"CSV '{csv_path}' line {line_number}: empty {wanted[role]!r}")
        raw = values["image"].replace("\\", "/") if os.sep == "/" else values["image"]
        if image_suffix and not raw.lower().endswith(image_suffix.lower()):
            raw += image_suffix
        path = Path(raw)
        path = Path(os.path.normpath((path if path.is_absolute() else base / path).absolute()))
        origin = f"'{path}' (CSV '{csv_path.name}' line {line_number})"
        if path in seen:
            raise ValueError(f"CSV '{csv_path}' lists '{path}' twice (lines {seen[path]} and {line_number})")
        seen[path] = line_number
        items.append(_Item(path, values["label"], origin, patient=values.get("patient")))
    if not items:
        raise ValueError(f"CSV '{csv_path}' lists no images")
    return items


# -------------------------------------------------------------------------------------------------------- checking


def _class_names(items: list[_Item], classes: Sequence[str] | None, where: str) -> tuple[str, ...]:
    found = sorted({item.class_name for item in items})
    if all(name.lstrip("+-").isdigit() for name in found):  # numeric labels: 2 before 10
        found.sort(key=int)
    if classes is None:
        if len(found) < 2:
            raise ValueError(f"{where} has {len(found)} class ({found}): a classifier needs at least 2")
        return tuple(found)
    names = tuple(str(c) for c in classes)
    if len(set(names)) != len(names):
        raise ValueError(f"classes must be unique, got {names}")
    unknown = sorted(set(found) - set(names))
    if unknown:
        examples = [next(it.origin for it in items if it.class_name == name) for name in unknown]
        raise ValueError(
            f"{where} has images of classes {unknown} that are not in classes={list(names)}: {_listing(examples)}"
        )
    empty = [name for name in names if name not in found]
    if empty:
        raise ValueError(f"{where} has no images of class(es) {empty} (classes={list(names)})")
    return names


def _min_size(min_size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if min_size is None:
        return None
    sizes = (int(min_size),) * 2 if isinstance(min_size, (int, float)) else tuple(int(s) for s in min_size)
    if len(sizes) != 2 or min(sizes) < 1:
        raise ValueError(f"min_size must be a positive int or (min_height, min_width), got {min_size!r}")
    return sizes  # type: ignore[return-value]


def _check_files(items: list[_Item], check_images: bool, min_size: tuple[int, int] | None) -> None:
    missing = [item.origin for item in items if not item.path.is_file()]
    if missing:
        raise ValueError(f"{len(missing)} listed image(s) do not exist: {_listing(missing)}")
    if not check_images:
        return
    unreadable, small = [], []
    for item in items:
        try:
            info = read_image_2d_info(item.path)
            read_image_2d(item.path)  # decoded once, when the datalist is made: truncated files show only here
        except ValueError as error:
            unreadable.append(f"{item.origin}: {error}")
            continue
        if min_size is not None and (info.height < min_size[0] or info.width < min_size[1]):
            small.append(f"{item.origin} is {info.height}x{info.width}")
    if unreadable:
        raise ValueError(f"{len(unreadable)} image(s) cannot be read: {_listing(unreadable)}")
    if small:
        raise ValueError(
            f"{len(small)} image(s) are smaller than the minimum size {min_size[0]}x{min_size[1]} (HxW): "
            f"{_listing(small)}"
        )


def _split(items: list[_Item], fractions: tuple[float, ...], seed: int, grouped: bool) -> dict[str, list[_Item]]:
    if any(item.split is not None for item in items):
        splits = {key: [it for it in items if it.split == key] for key in CLASSIFICATION_SPLITS}
        if not splits["validation"]:
            share = fractions[1] / max(fractions[0] + fractions[1], 1e-12)
            training = splits["training"]
            keep, carve = split_indices(
                len(training), (1.0 - share, share), seed=seed, stratify=[it.class_name for it in training]
            )
            splits["training"] = [training[i] for i in keep]
            splits["validation"] = [training[i] for i in carve]
        if not splits["testing"]:
            warnings.warn("the data set has no test folder: the 'testing' list is empty", UserWarning, stacklevel=3)
        return splits
    labels = [item.class_name for item in items]
    groups = [item.patient for item in items] if grouped else None
    parts = split_indices(len(items), fractions, seed=seed, stratify=labels, groups=groups)
    return {key: [items[i] for i in part] for key, part in zip(CLASSIFICATION_SPLITS, parts)}


def _check_classes_seen_in_training(splits: dict[str, list[_Item]], where: str) -> None:
    trained = {item.class_name for item in splits["training"]}
    for key in ("validation", "testing"):
        unseen = Counter(item.class_name for item in splits[key] if item.class_name not in trained)
        if unseen:
            example = {}
            for item in splits[key]:
                example.setdefault(item.class_name, item.origin)
            described = ", ".join(
                f"'{name}' ({count} image(s), e.g. {example[name]})" for name, count in sorted(unseen.items())
            )
            raise ValueError(
                f"{where}: class(es) {described} appear in {key} but never in training; give those classes more "
                "images (or patients), or put some in the training split"
            )


def _listing(things: Sequence[str]) -> str:
    return listing(things, _MAX_LISTED, separator="; ")


# ------------------------------------------------------------------------------------------------------------ files


def _read_datalist(path: Path) -> dict:
    if not path.is_file():
        raise ValueError(f"classification datalist '{path}' does not exist")
    try:
        datalist = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"classification datalist '{path}' is not valid JSON: {error}") from error
    if not isinstance(datalist, dict) or not isinstance(datalist.get("classes"), list):
        raise ValueError(f"'{path}' is not a classification datalist (no 'classes' list)")
    return datalist


def _synthetic_writer(kind: str):
    if kind == "ultrasound":
        from mamba_monai.data.synthetic.ultrasound import write_synthetic_ultrasound

        return write_synthetic_ultrasound
    from mamba_monai.data.synthetic.microscopy import write_synthetic_microscopy

    return write_synthetic_microscopy
