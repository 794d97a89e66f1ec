"""The last thing a user sees names the file or option and what was expected.

A bundle error raised by our helpers (``option 'epochs' must be a whole number``, ``'x.nii.gz' is truncated``...)
reaches the terminal wrapped by MONAI, at the end of a long traceback whose last line is the generic "Failed to
evaluate ConfigExpression". The hook installed here prints the traceback as before and then the innermost cause again,
alone on the last line, so that it is what the user reads. ``python -m monai.bundle run`` keeps working unchanged.
"""

from __future__ import annotations

import sys
from types import TracebackType

__all__ = ["install_error_summary", "root_cause"]


def root_cause(error: BaseException) -> BaseException:
    """The innermost exception of ``error``'s chain (``__cause__``, else ``__context__``)."""
    seen = {id(error)}
    while (inner := error.__cause__ or error.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        error = inner
    return error


def install_error_summary() -> None:
    """Wrap ``sys.excepthook`` once: after the usual traceback, print ``error: <innermost cause>`` when it differs."""
    if getattr(sys.excepthook, "_mamba_monai_summary", False):
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
        previous(kind, error, traceback)
        cause = root_cause(error)
        if cause is not error and not isinstance(cause, KeyboardInterrupt):
            print(f"\nerror: {type(cause).__name__}: {cause}", file=sys.stderr)

    hook._mamba_monai_summary = True  # type: ignore[attr-defined]
    sys.excepthook = hook
