"""A dataset wrapper for transforms that mix several images (mmdet's ``MultiImageMixDataset``)."""
import copy
from typing import Sequence

from mmcv.transforms import Compose

from vitdense.registry import DATASETS


@DATASETS.register_module()
class MultiImageMixDataset:
    """Each item runs the wrapped dataset's own pipeline, then ``pipeline``; a transform of
    ``pipeline`` with a ``get_indexes(dataset)`` method (``CopyPaste``) receives the wrapped
    dataset's items at those indexes as ``results['mix_results']``, each through its own
    pipeline too. As in mmdet: the wrapped pipeline loads and resizes, this one mixes and packs.

    Args:
        dataset: the dataset, or its config.
        pipeline: the transforms run after the wrapped dataset's pipeline.
        max_refetch: attempts at a transform that returns None before raising.
    """

    def __init__(self, dataset, pipeline: Sequence[dict], max_refetch: int = 15) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.pipeline = Compose(pipeline).transforms
        self.max_refetch = max_refetch

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int) -> dict:
        results = self.dataset[idx]  # a fresh dict from the wrapped pipeline
        for transform in self.pipeline:
            if hasattr(transform, 'get_indexes'):
                results['mix_results'] = [self.dataset[i]
                                          for i in transform.get_indexes(self.dataset)]
            for _ in range(self.max_refetch):
                out = transform(copy.deepcopy(results))
                if out is not None:
                    break
            else:
                raise RuntimeError(f'{transform!r} returned None {self.max_refetch} times on item '
                                   f'{idx} of {type(self.dataset).__name__}; check the pipeline.')
            results = out
            results.pop('mix_results', None)
        return results
