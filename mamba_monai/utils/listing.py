"""Short listings of names for error messages: the first few items and a count of the rest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["listing"]


def listing(items: Sequence[Any], limit: int = 5, separator: str = ", ") -> str:
    """The first ``limit`` items joined by ``separator``, followed by ``... and N more`` when there are more.

    Args:
        items: what to list (shown with ``str``).
        limit: how many items to show.
        separator: what goes between items (``"; "`` when the items contain commas).
    """
    shown = separator.join(str(item) for item in items[:limit])
    return shown + (f"{separator}... and {len(items) - limit} more" if len(items) > limit else "")
