"""Packing finished tests into the engine's record format
(include/difftest.h, dt_record)."""

from __future__ import annotations

import os
import struct
import sys
from array import array
from types import CodeType
from typing import Iterable, Optional

PASSED, FAILED, ERROR, SKIPPED, XFAILED = range(5)
KIND_LINES, KIND_DATA = 0, 1

_U32 = struct.Struct("<I")
_TEST_TAIL = struct.Struct("<BdI")


class PathMapper:
    """Maps code objects to (path relative to rootdir, first line), caching
    per file: only project files count, never installed packages."""

    def __init__(self, rootdir: str, exclude: Iterable[str]) -> None:
        self._prefix = os.path.join(rootdir, "")
        self._exclude = tuple(os.path.join(p, "") for p in exclude)
        self._files: dict[str, Optional[str]] = {}

    def relpath(self, filename: str) -> Optional[str]:
        try:
            return self._files[filename]
        except KeyError:
            pass
        rel: Optional[str] = None
        if (
            filename.startswith(self._prefix)
            and not filename.startswith(self._exclude)
            and filename.endswith(".py")
        ):
            rel = filename[len(self._prefix):]
            parts = rel.split(os.sep)
            if "site-packages" in parts or "dist-packages" in parts or ".pytest_cache" in parts:
                rel = None
            elif os.sep != "/":
                rel = "/".join(parts)
        self._files[filename] = rel
        return rel

    def group(self, codes: Iterable[CodeType]) -> dict[str, list[int]]:
        """Group code objects by project file."""
        by_file: dict[str, list[int]] = {}
        relpath = self.relpath
        for code in codes:
            rel = relpath(code.co_filename)
            if rel is not None:
                lines = by_file.get(rel)
                if lines is None:
                    by_file[rel] = [code.co_firstlineno]
                else:
                    lines.append(code.co_firstlineno)
        return by_file


def _str(b: bytearray, s: str) -> None:
    data = s.encode("utf-8", "surrogateescape")
    b += _U32.pack(len(data))
    b += data


def pack(tests: list[tuple[str, int, float, dict[str, list[int]], Iterable[str]]]) -> bytes:
    """Pack (nodeid, outcome, duration, {path: lines}, data paths) tuples."""
    out = bytearray(_U32.pack(len(tests)))
    for nodeid, outcome, duration, lines_by_file, data_files in tests:
        data_files = list(data_files)
        _str(out, nodeid)
        out += _TEST_TAIL.pack(outcome, duration, len(lines_by_file) + len(data_files))
        for path, lines in lines_by_file.items():
            out.append(KIND_LINES)
            _str(out, path)
            arr = array("I", lines)
            if sys.byteorder != "little":
                arr.byteswap()
            out += _U32.pack(len(arr))
            out += arr.tobytes()
        for path in data_files:
            out.append(KIND_DATA)
            _str(out, path)
            out += _U32.pack(0)
    return bytes(out)
