"""The exceptions that reading compressed data raises on damaged input: one tuple that
every stage unpacking a stream catches (`limits.Unpacked`, `sources`, and `packed`'s sniff
of a ZIP member), so a new one is added in one place. It sits below them all: readers may
not import `limits`, and a near-copy of this tuple drifted (an LZMA or zlib error caught by
one stage ended the run as a bug in another)."""

from __future__ import annotations

import lzma
import zipfile
import zlib

DECOMPRESS_ERRORS = (
    EOFError,  # gzip or deflate stream ends early (truncated download)
    zlib.error,  # corrupt deflate data
    lzma.LZMAError,  # corrupt data of an LZMA ZIP member (it ended the run: exit 1)
    zipfile.BadZipFile,  # bad CRC of a member
    NotImplementedError,  # ZIP compression method Python cannot read
    RuntimeError,  # encrypted ZIP member
    OSError,  # gzip.BadGzipFile (bad CRC, bad magic), I/O errors
)
