"""The round-writer lifecycle: reset when a round starts, collect per iteration, write when it ends; attached once."""

from __future__ import annotations

from ignite.engine import Engine

from mamba_monai.engines.handlers import (
    BratsMetricsWriter,
    ClassificationReportWriter,
    PredictionCSVWriter,
    SegmentationOverlayWriter,
)
from mamba_monai.engines.handlers.brats_official_writer import BratsOfficialMetricsWriter
from mamba_monai.engines.handlers.round_writer import RoundWriter


class Counter(RoundWriter):
    def __init__(self):
        self.events, self.rounds = [], []

    def reset(self, engine):
        self.events = []

    def collect(self, engine):
        self.events.append(engine.state.output)

    def __call__(self, engine):
        self.rounds.append(list(self.events))


def test_each_round_is_written_alone_and_attaching_twice_counts_once():
    engine = Engine(lambda e, batch: batch)
    writer = Counter()
    writer.attach(engine)
    writer.attach(engine)
    engine.run([1, 2, 3], max_epochs=2)
    assert writer.rounds == [[1, 2, 3], [1, 2, 3]]


def test_the_round_writers_share_the_lifecycle():
    for cls in (BratsMetricsWriter, BratsOfficialMetricsWriter, ClassificationReportWriter, PredictionCSVWriter,
                SegmentationOverlayWriter):  # fmt: skip
        assert issubclass(cls, RoundWriter), cls
        assert "attach" not in vars(cls) or cls is BratsOfficialMetricsWriter, f"{cls.__name__} attaches on its own"
