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


class ProgressOnly:
    """A text stream that writes to ``terminal`` only the step lines and progress bars of what it is given.

    Text arrives in chunks that need not end a line; a kept line ends with the next newline, whatever came in
    between, and a bar is redrawn in place (carriage return), as tqdm draws it.
    """

    def __init__(self, terminal: TextIO):
        self._terminal = terminal
        self._showing: str | None = None  # what the terminal's current line holds: "step", "bar" or nothing kept
        self._carriage = False  # a carriage return came after the last kept text
        self._ours = False  # the last text given was kept

    def write(self, text: str) -> int:
        """Pass the step lines and bars of ``text`` on; returns ``len(text)``, as a stream does."""
        kept = []
        for token in re.split(r"(\r|\n)", text):
            if token == "\n":
                if self._showing and self._ours:
                    kept.append("\n")
                    self._showing, self._carriage = None, False
            elif token == "\r":
                self._carriage = True
            elif token:
                kind = ("step" if STEP.match(token) else "bar" if BAR.search(token)
                        else "bar" if self._showing == "bar" and self._carriage and not token.strip()  # tqdm clearing
                        else None)
                self._ours = kind is not None
                if kind is None:
                    continue
                if self._showing == "bar":
                    prefix = "\r" if self._carriage else "\n" if kind == "step" else ""
                else:  # a step line is never drawn over
                    prefix = "\n" if self._showing == "step" else ""
                kept.append(prefix + token)
                self._showing, self._carriage = kind, False
        if kept:
            self._terminal.write("".join(kept))
        return len(text)

    def flush(self) -> None:
        """Flush the terminal."""
        self._terminal.flush()


def kernel_manager_logging_to(log: str | os.PathLike):
    """A jupyter_client kernel manager class (for nbclient's ``kernel_manager_class``) whose kernel process writes
    its own standard output and error, appending, to the file ``log`` instead of this process's terminal."""
    from jupyter_client import AsyncKernelManager

    path = Path(log)

    class LoggingKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            # the kernel keeps its own copy of the descriptor, so this one can close once the process started
            with open(path, "ab") as out:
                return await super().start_kernel(**{"stdout": out, "stderr": out, **kw})

    return LoggingKernelManager
