"""The head plugin examples of docs/plugins.md, run as written: a detection head and a
segmentation head from modules outside the package.

Each head module and its config are taken verbatim from the code blocks of the page (the blocks
whose first line names the file) and written to ``my_project/`` of a temporary checkout whose
``configs/`` links to the repository's, as the page tells users to lay them out. The config is
loaded through ``Config.fromfile`` + ``custom_imports``; a tiny version of its model
(``--cfg-options`` style overrides) is trained for a few steps through mmengine's ``train_step``
on two synthetic images of different sizes, then predicts through ``test_step``.
"""
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.structures import InstanceData, PixelData

from vitdense.registry import MODELS
from vitdense.structures import DetDataSample, SegDataSample, ShapeSpec
from vitdense.utils import register_all_modules

register_all_modules()
ROOT = Path(__file__).resolve().parents[3]
DET = dict(head='CenterCellHead', module='my_det_head',
           config='centercell_vit-t-hybrid_1xb4-demo_shapes.py')
SEG = dict(head='TwoConvSegHead', module='my_seg_head',
           config='twoconv_vit-t-hybrid_1xb4-demo_shapes.py')
TINY = {'model.backbone.arch': 'test', 'model.backbone.init_cfg': None, 'model.init_cfg': None,
        'model.neck.out_channels': 32}
SIZES = ((61, 93), (45, 40))  # (h, w) of the two resized images; the batch pads to (64, 96)
STEPS = 6



@pytest.fixture
def project(tmp_path, monkeypatch, plugins_doc_block):
    """A checkout as the page lays it out: ``configs/`` and ``my_project/`` with the page's files,
    ``my_project`` on the path (``PYTHONPATH=my_project``)."""
    (tmp_path / 'configs').symlink_to(ROOT / 'configs', target_is_directory=True)
    folder = tmp_path / 'my_project'
    folder.mkdir()
    for plugin in (DET, SEG):
        assert plugin['head'] not in MODELS  # registered by the page's module only
        for name in (f"{plugin['module']}.py", plugin['config']):
            (folder / name).write_text(plugins_doc_block(name))
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for plugin in (DET, SEG):
        sys.modules.pop(plugin['module'], None)
        MODELS._module_dict.pop(plugin['head'], None)


def head_of(model: torch.nn.Module) -> torch.nn.Module:
    return model.bbox_head if hasattr(model, 'bbox_head') else model.decode_head


def build(project: Path, plugin: dict, overrides: dict) -> torch.nn.Module:
    """The tiny model of the page's config; checks that the head came from the page's module."""
    assert plugin['module'] not in sys.modules
    cfg = Config.fromfile(str(project / plugin['config']))
    assert plugin['module'] in sys.modules  # imported by custom_imports, not by this test
    cfg.merge_from_dict({**TINY, **overrides})
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    head = head_of(model)
    assert (type(head).__name__, type(head).__module__) == (plugin['head'], plugin['module'])
    return model


def train(model: torch.nn.Module, batch: Callable[[], dict], loss_keys: set[str]) -> None:
    """A few ``train_step``s on one batch: the loss falls and every head parameter changes."""
    head = head_of(model)
    start = {name: p.detach().clone() for name, p in head.named_parameters()}
    optim_wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    model.train()
    losses = []
    for _ in range(STEPS):
        log_vars = model.train_step(batch(), optim_wrapper)
        assert set(log_vars) == {'loss'} | loss_keys
        losses.append(log_vars['loss'].item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    unchanged = [n for n, p in head.named_parameters() if torch.equal(p.detach(), start[n])]
    assert not unchanged, f'head parameters not trained: {unchanged}'


def det_batch() -> dict:
    """Two images resized by 1/2 from their originals, with 3 and 1 boxes (two centres in one
    stride-8 cell)."""
    boxes = ([[4, 6, 40, 50], [8, 10, 36, 44], [50, 10, 90, 30]], [[8, 8, 30, 40]])
    labels = ([0, 3, 5], [1])
    gen = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for (h, w), img_boxes, img_labels in zip(SIZES, boxes, labels):
        inputs.append(torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=gen))
        sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(2 * h, 2 * w),
                                             scale_factor=(0.5, 0.5)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor(img_boxes, dtype=torch.float32),
                                           labels=torch.tensor(img_labels))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def seg_batch(num_classes: int) -> dict:
    """Two images whose originals differ from their input size, with labels and ignored pixels."""
    gen = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for h, w in SIZES:
        inputs.append(torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=gen))
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h + 7, w - 5)))
        label = torch.randint(0, num_classes, (1, h, w), generator=gen)
        label[:, :3] = 255
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_detection_head_from_the_docs_trains_and_predicts(project):
    model = build(project, DET, {'model.bbox_head.channels': 32,
                                 'model.bbox_head.score_thr': 0.0})
    head = model.bbox_head
    assert model.head_input_shape == {'p3': ShapeSpec(channels=32, stride=8)}
    # Image 0: centres (22, 28) and (22, 27) share cell (row 3, col 2), (70, 20) is in (2, 8).
    labels, boxes = head.targets(det_batch()['data_samples'][0], (8, 12))
    pos = torch.nonzero(labels < 8).squeeze(1)
    assert pos.tolist() == [2 * 12 + 8, 3 * 12 + 2]
    assert labels[pos].tolist() == [5, 3]  # the smaller of the two boxes takes the shared cell
    assert boxes[pos].tolist() == [[50, 10, 90, 30], [8, 10, 36, 44]]
    train(model, det_batch, {'loss_cls', 'loss_bbox'})

    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(det_batch())
        logits, dists = model(data['inputs'], data['data_samples'], mode='tensor')
        assert logits.shape == (2, 8, 8, 12) and dists.shape == (2, 4, 8, 12)
        preds = model.test_step(det_batch())
        feats = model.extract_feat(data['inputs'])
        in_input_frame = head.predict(feats, data['data_samples'], rescale=False)
    for sample, unscaled, (h, w) in zip(preds, in_input_frame, SIZES):
        pred = sample.pred_instances
        n = len(pred)
        assert 0 < n <= head.max_per_img
        assert pred.bboxes.shape == (n, 4) and pred.scores.shape == (n,)
        assert pred.labels.shape == (n,) and pred.labels.dtype == torch.int64
        assert ((pred.labels >= 0) & (pred.labels < 8)).all()
        assert (pred.scores[:-1] >= pred.scores[1:]).all()  # best first
        boxes, (oh, ow) = pred.bboxes, sample.ori_shape
        assert (boxes[:, 2:] >= boxes[:, :2]).all()
        assert (boxes >= 0).all() and (boxes[:, 0::2] <= ow).all() and (boxes[:, 1::2] <= oh).all()
        assert (unscaled.bboxes[:, 0::2] <= w).all() and (unscaled.bboxes[:, 1::2] <= h).all()
        torch.testing.assert_close(boxes, unscaled.bboxes / 0.5)  # scale_factor (0.5, 0.5)


def test_segmentation_head_from_the_docs_trains_and_predicts(project):
    model = build(project, SEG, {'model.decode_head.channels': 16})
    k = model.num_classes
    assert k == model.decode_head.num_classes == 9
    assert model.head_input_shape == {'p2': ShapeSpec(channels=32, stride=4)}
    train(model, lambda: seg_batch(k), {'loss_ce'})

    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(seg_batch(k))
        assert model(data['inputs'], mode='tensor').shape == (2, k, 16, 24)
        preds = model.test_step(seg_batch(k))
    for sample in preds:
        oh, ow = sample.ori_shape
        assert sample.seg_logits.data.shape == (k, oh, ow)
        seg = sample.pred_sem_seg.data
        assert seg.shape == (1, oh, ow)
        assert ((seg >= 0) & (seg < k)).all()
