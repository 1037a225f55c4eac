"""Plain-text tables for metric logs (no third-party table package)."""
from collections.abc import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Format rows as an ASCII table with a header rule, columns padded to their widest cell.

    Args:
        headers: column titles.
        rows: one sequence of cells per row, each as long as ``headers``; cells are ``str()``-ed.

    Returns:
        The table as one string of ``len(rows) + 4`` lines (no trailing newline).
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    for i, row in enumerate(cells):
        if len(row) != len(headers):
            raise ValueError(f'format_table: row {i - 1} has {len(row)} cells but there are '
                             f'{len(headers)} headers ({list(headers)}); give one cell per column.')
    widths = [max(len(row[j]) for row in cells) for j in range(len(headers))]
    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

    def line(row: list[str]) -> str:
        return '| ' + ' | '.join(c.ljust(w) for c, w in zip(row, widths)) + ' |'

    return '\n'.join([rule, line(cells[0]), rule, *(line(r) for r in cells[1:]), rule])
