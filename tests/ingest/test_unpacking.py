"""The decompression errors every ingest stage catches are one tuple (`ingest.unpacking`)."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import cdr_pipeline.ingest as ingest
from cdr_pipeline.ingest import limits, packed, sources, unpacking

DAMAGE = {"zlib.error", "lzma.LZMAError"}
"""Errors only decompressing raises (opening an archive raises others of the tuple)."""


def test_no_ingest_module_keeps_its_own_list_of_decompression_errors() -> None:
    # packed.apple_double kept a near-copy of limits.DECOMPRESS_ERRORS (the import contract
    # forbade it `limits`): it missed zlib.error once, and the run ended as a bug (exit 1)
    copies = []
    for module in pkgutil.iter_modules(ingest.__path__):
        if module.name == "unpacking" or module.ispkg:
            continue
        path = Path(ingest.__path__[0]) / f"{module.name}.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple):
                names = {ast.unparse(e) for e in node.elts}
                if names & DAMAGE:
                    copies.append(f"{module.name}.py:{node.lineno}")
    assert copies == []


def test_the_stages_that_unpack_share_the_tuple() -> None:
    shared = unpacking.DECOMPRESS_ERRORS
    assert limits.DECOMPRESS_ERRORS is shared  # type: ignore[attr-defined]
    assert sources.DECOMPRESS_ERRORS is shared  # type: ignore[attr-defined]
    assert packed.DECOMPRESS_ERRORS is shared  # type: ignore[attr-defined]
