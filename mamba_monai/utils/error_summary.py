"""The last thing a user sees names the file or option and what was expected.

A bundle error raised by our helpers (``option 'epochs' must be a whole number``, ``'x.nii.gz' is truncated``...)
reaches the terminal wrapped by MONAI, at the end of a long traceback whose last line is the generic "Failed to
evaluate ConfigExpression". The hook installed here prints the traceback as before and then the innermost cause again,
alone on the last line, so that it is what the user reads. ``python -m monai.bundle run`` keeps working unchanged.
"""

from __future__ import annotations

import sys
from types import TracebackType

__all__ = ["error_chain", "install_error_summary", "root_cause"]


def error_chain(error: BaseException) -> list[BaseException]:
    """``error`` and the exceptions it came from (``__cause__``, else ``__context__``), outermost first."""
    chain = [error]
    while (inner := chain[-1].__cause__ or chain[-1].__context__) is not None and all(inner is not e for e in chain):
        chain.append(inner)
    return chain


def root_cause(error: BaseException) -> BaseException:
    """The innermost exception of ``error``'s chain (``__cause__``, else ``__context__``)."""
    return error_chain(error)[-1]


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
