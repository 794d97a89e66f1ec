"""Write files atomically (temporary file in the same folder, then ``os.replace``), so a reader never sees half a file.

Handlers rewrite their outputs (plots, metric tables) while training runs; a viewer or a copy job that reads them at
the same moment must see either the previous complete file or the new one.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "atomic_destination",
    "save_figure_atomically",
    "update_json_atomically",
    "write_bytes_atomically",
    "write_json_atomically",
    "write_text_atomically",
]


@contextmanager
def atomic_destination(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder (created if needed) to write to; on success it replaces ``path``
    (mode 0644), on any error it is removed and ``path`` is left as it was.

    Args:
        path: destination file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (its folder is created if needed); returns the path.

    Args:
        path: destination file.
        data: the complete content.
    """
    with atomic_destination(path) as temporary, open(temporary, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    return Path(path)


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns the path.

    Args:
        path: destination file.
        text: the complete content.
    """
    return write_bytes_atomically(path, text.encode("utf-8"))


def write_json_atomically(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON (with a final newline) to ``path`` atomically; returns the path.

    Args:
        path: destination file.
        data: anything ``json.dumps`` accepts.
    """
    return write_text_atomically(path, json.dumps(data, indent=2) + "\n")


def save_figure_atomically(figure: Figure, path: str | os.PathLike, dpi: float | None = None) -> Path:
    """Render a matplotlib figure to PNG with the Agg canvas and write it atomically; returns the path.

    The figure is rendered by ``FigureCanvasAgg`` directly, so neither ``pyplot`` nor the session's backend is
    involved (safe on headless machines and inside threads).

    Args:
        figure: a ``matplotlib.figure.Figure``.
        path: destination ``.png`` file.
        dpi: resolution; the figure's own when ``None``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_bytes_atomically(path, buffer.getvalue())


def update_json_atomically(path: str | os.PathLike, extra: dict) -> Path:
    """Add (or replace) the keys of ``extra`` in the JSON object stored at ``path``, atomically; returns the path.

    Args:
        path: an existing JSON file holding an object.
        extra: the keys to set.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot update '{path}': {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"cannot update '{path}': it holds a {type(data).__name__}, not a JSON object")
    return write_json_atomically(path, {**data, **extra})
