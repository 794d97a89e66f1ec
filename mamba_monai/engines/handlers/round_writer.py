"""The lifecycle shared by the evaluator handlers that write files about a whole evaluation round.

A round is one evaluator epoch (one validation, one evaluation, one inference run). Such a handler forgets the
previous round when a round starts, collects per-item results after each iteration, and writes its files when the
round ends; attaching it twice to one engine registers it once.
"""

from __future__ import annotations

from typing import Any

from ignite.engine import Engine, Events

__all__ = ["RoundWriter"]


class RoundWriter:
    """Base of the round writers: :meth:`reset` on ``EPOCH_STARTED``, :meth:`collect` on ``ITERATION_COMPLETED``,
    ``__call__`` (the writing) on ``EPOCH_COMPLETED``. Subclasses implement the three; in distributed evaluation
    ``__call__`` gathers what the ranks collected and writes on ``save_rank`` only.
    """

    save_rank: int = 0

    def attach(self, engine: Engine) -> None:
        """Register on ``engine`` (an evaluator); a second call for the same engine does nothing.

        Args:
            engine: the evaluator.
        """
        if engine.has_event_handler(self, Events.EPOCH_COMPLETED):
            return
        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def reset(self, engine: Engine) -> None:
        """Forget the previous round."""
        raise NotImplementedError

    def collect(self, engine: Engine) -> None:
        """Take what this handler needs from ``engine.state`` after one iteration."""
        raise NotImplementedError

    def __call__(self, engine: Engine) -> Any:
        """Write the files of the round that just ended."""
        raise NotImplementedError
