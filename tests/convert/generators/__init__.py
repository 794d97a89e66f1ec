"""Generators of ``tests/convert/fixtures``: they run the ORIGINAL code, read from a checkout given on the command
line, and are never run by the tests or CI (see README.md). Nothing of the originals is kept in this repository."""
