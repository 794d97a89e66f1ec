"""python -m tests.convert.generators FAMILY ORIGINAL_CHECKOUT [--out FILE]: recreate one conversion fixture by
running the original code (see README.md). Never run by the tests or CI."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
#: family -> (generator module, fixture file)
GENERATORS = {
    "medmamba": ("medmamba", "medmamba.pt"),
    "medmambase": ("medmambase", "medmambase.pt"),
    "msmamba": ("msmamba", "msmamba_tiny.pt"),
    "senet": ("senet", "senet.pt"),
    "segmamba": ("segmamba", "segmamba_tiny.pt"),
    "senet_timm": ("senet_timm", "senet_timm.pt"),
    "slicemamba": ("slicemamba", "slicemamba.pt"),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.convert.generators", description=__doc__)
    parser.add_argument("family", choices=sorted(GENERATORS))
    parser.add_argument("original", type=Path, nargs="?", help="root of a checkout of the original repository")
    parser.add_argument("--out", type=Path, help="fixture file to write (default: tests/convert/fixtures/<file>)")
    args = parser.parse_args(argv)
    module, file = GENERATORS[args.family]
    if args.original is None and args.family != "senet_timm":
        parser.error(f"{args.family} needs the path of a checkout of the original repository")
    from tests.convert.generators.fixture_values import save_fixture

    make = importlib.import_module(f"tests.convert.generators.{module}").make
    save_fixture(make(args.original), args.out or FIXTURES / file)


if __name__ == "__main__":
    main()
