"""Progress bars for the long commands (`sor report`, `process` of a large spool), on a terminal only.

The bar is drawn on stderr and only when stderr is a terminal: piped or redirected output, CI logs and the
JSON lines of `--json` on stdout never carry it. It is transient (erased when done), so what stays on the
screen is the command's own summary line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported when a bar is drawn: `validate` and friends start without it
    from rich.console import Console
    from rich.progress import Progress, TaskID


class Bar:
    """One task of a progress display; every method is a no-op when nothing is shown."""

    def __init__(self, progress: Progress | None = None, task: TaskID | None = None) -> None:
        self._progress = progress
        self._task = task

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def advance(self, amount: float = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)

    def stage(self, description: str, *, total: float | None = None) -> None:
        """Start the next stage: a new description and, with `total`, a new count from 0."""
        if self._progress is None or self._task is None:
            return
        if total is None:
            self._progress.update(self._task, description=description)
        else:
            self._progress.reset(self._task, description=description, total=total)


def on_terminal(stream: IO[str] | None = None) -> bool:
    """True when `stream` (stderr by default) is a terminal a person watches."""
    target = stream if stream is not None else sys.stderr
    try:
        return target.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream (test runners)
        return False


@contextmanager
def bar(description: str, total: float | None, *, console: Console | None = None) -> Iterator[Bar]:
    """A progress bar on stderr when it is a terminal (or on `console`, for tests); a silent Bar otherwise."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if console is None:
        if not on_terminal():
            yield Bar()
            return
        console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        yield Bar(progress, progress.add_task(description, total=total))
