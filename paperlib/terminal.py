"""What of a running chapter's output reaches the terminal: paperlib's step lines and progress bars, nothing else.

A chapter's kernel writes in two ways. Its stream outputs (Python's ``sys.stderr``, and what C libraries write to
file descriptor 2, which ipykernel captures) reach :func:`paperlib.runner.run_study` as notebook output; the kernel
process's own descriptors receive its start-up warnings and, from ipykernel, a second copy of the C libraries'
output. :class:`ProgressOnly` passes the first to the terminal, filtered; :func:`kernel_manager_logging_to` sends
the second to a file. Everything else a chapter writes to stderr is kept in its log
(:func:`paperlib.runner.tidy_executed`), never lost.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TextIO

STEP = re.compile(r"\[paperlib \d\d:\d\d:\d\d\] ")
"""The start of a line of :class:`paperlib.timing.Timer`."""

BAR = re.compile(r"\d+%\|.*\| *\d+/\d+ \[")
"""tqdm's default bar, as in ``fits:  50%|█████     | 1/2 [00:32<00:32, 32.95s/it]``."""

MOVE_UP = re.compile(r"(\x1b\[A)+")
"""tqdm's move back up to an outer bar after drawing an inner (nested) one."""


class ProgressOnly:
    """A text stream that writes to ``terminal`` only the step lines and progress bars of what it is given.

    Everything else is a library's line, dropped up to and with its newline. A step line is never drawn over; a
    bar is redrawn in place, cleared and nested as tqdm draws it (carriage returns, blank padding, newlines and
    cursor-up moves), whatever library lines come between its updates.
    """

    def __init__(self, terminal: TextIO):
        self._terminal = terminal
        self._showing: str | None = None  # the terminal's current line: "step", "bar", "blank" or nothing of ours
        self._carriage = False  # a carriage return came after the last kept text
        self._foreign = False  # a library's line is in progress (its newline is not ours)

    def _prefix(self, kind: str) -> str:
        if kind == "step":
            return "\n" if self._showing in ("step", "bar") else "\r" if self._carriage else ""
        if kind == "bar":
            return "\n" if self._showing == "step" else "\r" if self._carriage else ""
        return "\r" if self._carriage else ""

    def write(self, text: str) -> int:
        """Pass the step lines and bars of ``text`` on; returns ``len(text)``, as a stream does."""
        kept = []
        for token in re.split(r"(\r|\n)", text):
            if token == "\n":
                if not self._foreign:
                    kept.append("\n")
                    self._showing, self._carriage = None, False
                self._foreign = False
            elif token == "\r":
                self._carriage, self._foreign = True, False
            elif token:
                step = STEP.search(token)  # a library's unended line may precede it in the same chunk
                kind = ("step" if step else "bar" if BAR.search(token) else "blank" if not token.strip()
                        else "move" if MOVE_UP.fullmatch(token) else None)
                if kind is None:
                    self._foreign = True
                    continue
                kept.append(self._prefix(kind) + (token[step.start():] if step else token))
                self._showing = "bar" if kind == "move" else kind
                self._carriage = self._foreign = False
        if kept:
            self._terminal.write("".join(kept))
        return len(text)

    def flush(self) -> None:
        """Flush the terminal."""
        self._terminal.flush()


def kernel_manager_logging_to(log: str | os.PathLike) -> type:
    """A jupyter_client kernel manager class (for nbclient's ``kernel_manager_class``) whose kernel process writes
    its own standard output and error, appending, to the file ``log`` instead of this process's terminal."""
    from jupyter_client import AsyncKernelManager

    path = Path(log)

    class LoggingKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            # The kernel keeps its own copy of the descriptor, so this one can close once the process started.
            # (A restart would reuse the closed file; papermill never restarts a kernel.)
            with open(path, "ab") as out:
                return await super().start_kernel(**{"stdout": out, "stderr": out, **kw})

    return LoggingKernelManager
