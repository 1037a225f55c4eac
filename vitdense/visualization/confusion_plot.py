"""Draw a confusion matrix: rows normalised to percent, labelled axes, the values in the cells."""
import os
import os.path as osp
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vitdense.evaluation.confusion_matrix import normalize_rows


def plot_confusion_matrix(matrix: np.ndarray, labels: Sequence[str], out: str,
                          title: str = 'Normalized confusion matrix',
                          cmap: str = 'Blues') -> Figure:
    """Save ``matrix`` (rows = ground truth) as a PNG at ``out``, each row in percent of its
    ground truth (as mmdet draws it); the values are written in the cells up to 30 classes."""
    percent = normalize_rows(matrix)
    n = len(labels)
    side = max(5.0, 0.5 * n + 2.5)
    fig = Figure(figsize=(side + 1.0, side), layout='constrained')
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    image = ax.imshow(percent, cmap=cmap, vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label='% of the ground-truth row')
    ax.set_xticks(range(n), labels, rotation=45, ha='right')
    ax.set_yticks(range(n), labels)
    ax.set_xlabel('Prediction')
    ax.set_ylabel('Ground truth')
    ax.set_title(title)
    if n <= 30:
        for (g, p), value in np.ndenumerate(percent):
            ax.text(p, g, f'{value:.0f}', ha='center', va='center', fontsize=8,
                    color='white' if value > 60 else 'black')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    return fig
