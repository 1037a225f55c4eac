"""Progress bars for long loops, shown only when someone watches a terminal.

``progress(iterable)`` is ``tqdm`` on stderr when stderr is a terminal, and the bare iterable
otherwise: logs, pipes, CI and ``nohup`` output get no bar characters and no carriage returns.
``VITDENSE_PROGRESS=0`` turns the bars off on a terminal too, ``=1`` forces them (tests).
"""
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Optional, TypeVar

from tqdm import tqdm

T = TypeVar('T')
ENV_VAR = 'VITDENSE_PROGRESS'


def progress_enabled() -> bool:
    """Whether bars are drawn: ``VITDENSE_PROGRESS`` if set (0 / 1), else stderr is a tty."""
    forced = os.environ.get(ENV_VAR)
    if forced is not None and forced.strip() in ('0', '1'):
        return forced.strip() == '1'
    return sys.stderr.isatty()


def progress(iterable: Iterable[T], desc: str = '', total: Optional[int] = None,
             unit: str = 'it') -> Iterator[T] | Iterable[T]:
    """``iterable`` wrapped in a tqdm bar on stderr when :func:`progress_enabled`, else as is.

    Args:
        iterable: the loop.
        desc: label in front of the bar.
        total: number of items when ``iterable`` has no ``len``.
        unit: what one item is called (``'img'``, ``'key'``, ``'run'``).
    """
    if not progress_enabled():
        return iterable
    return tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr,
                dynamic_ncols=True, leave=True)


def progress_bar(total: int, desc: str = '', unit: str = 'it') -> tqdm:
    """A manual bar (``update(n)``, ``set_postfix_str(s)``, ``close()``) for loops that are not
    a single iterable; a silent no-op object when :func:`progress_enabled` is false."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                disable=not progress_enabled())
