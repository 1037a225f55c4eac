"""Evaluate a model at other test resolutions: the resolution sweep of the position-encoding study.

Two ways to change the resolution, which separate two effects a plain resize mixes:

- ``zoom``: the val images are resized by ``scale`` (after the config's own test resize), so the
  objects grow with the image and the token grid;
- ``canvas``: a val set drawn by the shapes generator on canvases ``scale`` times the default
  with the default object-size distribution (``generate_shapes(canvas_scale=...)``), resized by
  the config's test resize times ``scale``: objects keep their size in pixels and only the token
  grid changes. This isolates what the position encoding does from scale invariance.

``aspect`` (zoom only) stretches the width by ``sqrt(aspect)`` and shrinks the height by it.
"""
import copy
import json
import math
import os.path as osp
from dataclasses import asdict, dataclass

from mmengine.config import Config

from vitdense.datasets.shapes import generate_shapes, shapes_exists

MODES = ('zoom', 'canvas')
SHAPES_DATASETS = ('ShapesDataset', 'ShapesSegDataset')
METRIC_KEYS = ('coco/bbox_mAP', 'mIoU', 'accuracy/top1')


@dataclass(frozen=True)
class SweepPoint:
    """One evaluation of the sweep: which model, how the resolution was changed, the result."""

    model: str
    mode: str
    scale: float
    aspect: float
    metric: str
    value: float
    metrics: dict

    def key(self) -> tuple:
        return (self.model, self.mode, round(self.scale, 6), round(self.aspect, 6))

    def to_dict(self) -> dict:
        return asdict(self)


def primary_metric(metrics: dict) -> tuple[str, float]:
    """The headline number of a test: COCO mAP, else mIoU, else top-1."""
    for key in METRIC_KEYS:
        if key in metrics:
            return key, float(metrics[key])
    raise KeyError(f'None of {METRIC_KEYS} in the test metrics {sorted(metrics)}; the sweep '
                   f'plots one of them.')


def _test_pipeline(cfg: Config, where: str) -> list:
    dataset = cfg.test_dataloader.dataset
    pipeline = dataset.get('pipeline')
    if not pipeline:
        raise KeyError(f'{where}: test_dataloader.dataset has no pipeline to resize in.')
    return pipeline


def _last_resize(pipeline: list, where: str) -> int:
    idx = [i for i, t in enumerate(pipeline) if t.get('type') == 'Resize']
    if not idx:
        raise KeyError(f'{where}: the test pipeline has no Resize; the sweep scales the test '
                       f'size through it (add dict(type=\'Resize\', scale=..., keep_ratio=True)).')
    return idx[-1]


def base_test_size(cfg: Config, where: str = 'config'):
    """The ``scale`` of the test pipeline's last Resize (what scale 1 of a sweep means), or
    None where it resizes by a factor."""
    pipeline = _test_pipeline(cfg, where)
    return pipeline[_last_resize(pipeline, where)].get('scale')


def zoom_cfg(cfg: Config, scale: float, aspect: float = 1.0, where: str = 'config') -> Config:
    """``cfg`` testing the val images resized by ``scale`` (width also by sqrt(aspect), height
    by 1 / sqrt(aspect)), after its own test resize."""
    cfg = copy.deepcopy(cfg)
    pipeline = _test_pipeline(cfg, where)
    fw, fh = scale * math.sqrt(aspect), scale / math.sqrt(aspect)
    pipeline.insert(_last_resize(pipeline, where) + 1,
                    dict(type='Resize', scale_factor=(fw, fh), keep_ratio=False))
    return cfg


def canvas_cfg(cfg: Config, scale: float, canvas_root: str, where: str = 'config') -> Config:
    """``cfg`` testing the shapes val set drawn at ``canvas_root`` (canvas ``scale`` times the
    default), with its test resize scaled by ``scale`` so that objects keep their pixel size."""
    cfg = copy.deepcopy(cfg)
    dataset = cfg.test_dataloader.dataset
    if dataset.get('type') not in SHAPES_DATASETS:
        raise ValueError(f"{where}: canvas mode draws new val sets with the shapes generator, but "
                         f"the test dataset is {dataset.get('type')!r} (not one of "
                         f'{SHAPES_DATASETS}); use --mode zoom for other datasets.')
    old_root = dataset.get('data_root', '')
    dataset.data_root = canvas_root.rstrip('/') + '/'
    pipeline = _test_pipeline(cfg, where)
    resize = pipeline[_last_resize(pipeline, where)]
    if resize.get('scale') is None:
        raise ValueError(f'{where}: canvas mode scales the test Resize\'s scale, but it is given '
                         f'as scale_factor={resize.get("scale_factor")}.')
    resize['scale'] = tuple(max(int(round(v * scale)), 1) for v in resize['scale'])
    evaluators = cfg.test_evaluator
    for evaluator in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
        ann = evaluator.get('ann_file')
        if ann:
            if not ann.startswith(old_root):
                raise ValueError(f"{where}: the evaluator's ann_file {ann!r} is not under the "
                                 f"dataset's data_root {old_root!r}; canvas mode cannot "
                                 f'redirect it.')
            evaluator['ann_file'] = dataset.data_root + ann[len(old_root):]
    return cfg


def canvas_val(root: str, scale: float, seed: int = 0, num_val: int = 300) -> str:
    """The shapes val set on a canvas ``scale`` times the default under ``root`` (drawn once):
    its folder. The same seed as the default val set, so scale 1 is that set."""
    out = osp.join(root, f'canvas_{scale:g}')
    if not shapes_exists(out, seed=seed, num_train=1, num_val=num_val, canvas_scale=scale):
        generate_shapes(out, seed=seed, num_train=1, num_val=num_val, canvas_scale=scale)
    return out


def sweep_cfg(cfg: Config, mode: str, scale: float, aspect: float, canvas_root: str | None,
              where: str) -> Config:
    """The config of one sweep point (see :func:`zoom_cfg`, :func:`canvas_cfg`)."""
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    if scale <= 0 or aspect <= 0:
        raise ValueError(f'scale and aspect must be positive, got {scale} and {aspect}')
    if mode == 'zoom':
        return zoom_cfg(cfg, scale, aspect, where)
    if aspect != 1:
        raise ValueError('canvas mode draws canvases of the default aspect distribution; '
                         'give --aspects only with --mode zoom')
    return canvas_cfg(cfg, scale, canvas_root, where)


def shapes_val_settings(cfg: Config) -> tuple[int, int]:
    """(seed, num_val) of the shapes set the config tests on (its shapes_meta.json), so that the
    canvas val sets are drawn from the same scenes' seeds; (0, 300) without the file."""
    meta = osp.join(cfg.test_dataloader.dataset.get('data_root', ''), 'shapes_meta.json')
    if not osp.isfile(meta):
        return 0, 300
    with open(meta) as f:
        data = json.load(f)
    return int(data.get('seed', 0)), int(data.get('num_val', 300))


def limit_images(cfg: Config, max_images: int | None) -> Config:
    """Test on the first ``max_images`` images only (mmengine's dataset ``indices``)."""
    if max_images:
        cfg.test_dataloader.dataset.indices = int(max_images)
    return cfg


def evaluate(cfg: Config, checkpoint: str, work_dir: str) -> dict:
    """Test ``checkpoint`` with ``cfg`` through mmengine's Runner; the metrics dict."""
    from mmengine.runner import Runner

    cfg = copy.deepcopy(cfg)
    cfg.load_from, cfg.work_dir = checkpoint, work_dir
    cfg.log_level = 'WARNING'
    if cfg.get('visualizer'):  # mmengine keeps one visualizer per name per process
        cfg.visualizer.name = f'resolution_sweep:{work_dir}'
    cfg.test_dataloader.persistent_workers = False
    return dict(Runner.from_cfg(cfg).test())
