"""pywebsocket3's ``memorizingfile``: a file wrapper that keeps the lines ``readline`` returned.

pywebsocket3's standalone server wrapped its request file in one, so a WebSocket
request could be given the raw lines of its HTTP head (``request.connection.
get_memorized_lines()``); ``request_handler`` does the same here. This package's
own server reads the head itself (``adapters.standalone.http_head``); the class is
written here for pywebsocket3's name.
"""

from __future__ import annotations

import sys


class MemorizingFile:
    """Wraps ``file_``: ``readline`` remembers (up to ``max_memorized_lines``) the lines it
    reads, every other attribute is the wrapped file's.

    Only ``readline`` memorizes. ``readline(size)`` reads the whole line from the file
    anyway, remembers it whole, and hands the rest out to the next calls.
    """

    def __init__(self, file_, max_memorized_lines: int = sys.maxsize) -> None:
        self._file = file_
        self._memorized_lines: list = []
        self._max_memorized_lines = max_memorized_lines
        self._rest_of_line = None  # what a readline(size) left of its line

    def __getattr__(self, name: str):
        # Only names this object lacks get here: those of the wrapped file.
        if name.startswith("__") or name in ("_file", "_memorized_lines", "_max_memorized_lines", "_rest_of_line"):
            raise AttributeError(name)
        return getattr(self._file, name)

    def readline(self, size: int = -1):
        """The next line (at most ``size`` characters of it when ``size`` >= 0), as the file's ``readline``."""
        line = self._rest_of_line
        self._rest_of_line = None
        if line is None:
            line = self._file.readline()
            if line and len(self._memorized_lines) < self._max_memorized_lines:
                self._memorized_lines.append(line)
        if 0 <= size < len(line):
            self._rest_of_line = line[size:]
            return line[:size]
        return line

    def get_memorized_lines(self) -> list:
        """The lines read so far, in order (bytes or str, as the file gives them)."""
        return self._memorized_lines
