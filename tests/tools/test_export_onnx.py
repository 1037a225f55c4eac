"""tools/deploy/export_onnx.py: tiny randomly initialised FCOS, Deformable DETR and UPerNet
models exported with a dynamic height and width, run in onnxruntime at the export size and at
two other sizes, and compared with PyTorch.

Tolerances (float32 on CPU; measured on the demo configs: probabilities ~1e-7, logits up to
1e-5, boxes up to 6e-5 pixels, docs/deploy.md): probabilities, centerness and logits within
1e-4, boxes within 1e-3 pixels; the argmax class map may differ
on at most 0.1 % of the pixels (near-ties). Besides the parity, the graph's decoded outputs are
checked against the model's own ``predict`` (what tools/test.py reports), so that the
post-processing that docs/deploy.md leaves to the caller gives the toolkit's detections.
"""
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from vitdense.apis import init_model
from vitdense.deploy import ExportWrapper, onnx_metadata, run_onnx, static_size_reasons
from vitdense.models.backbones import ViT
from vitdense.models.pos_encodings import (
    AttentionPosEncoding,
    ConditionalPosEncoding,
    LearnedAbsolutePE,
    TokenPosEncoding,
)
from vitdense.models.utils import batched_nms
from vitdense.registry import MODELS, POS_ENCODINGS
from vitdense.structures import DetDataSample, SegDataSample
from vitdense.utils import register_all_modules

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')  # torch.onnx.export(dynamo=True) needs it
register_all_modules()

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools/deploy/export_onnx.py'
TINY = {'model.backbone.arch': 'test', 'model.backbone.init_cfg': None, 'model.init_cfg': None}
# A pyramid of two levels (p4, p5) from the plain patch stem: the fewest symbolic sizes, which
# keeps the export of the DETR graph short.
TWO_LEVELS = {**TINY, 'model.backbone.stem': None, 'model.neck.out_channels': 32,
              'model.neck.lateral_features': (), 'model.neck.scale_factors': (1.0, 0.5),
              'model.neck.top_block': False}
MODELS_UNDER_TEST = {
    'fcos': ('configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py',
             {**TINY, 'model.neck.out_channels': 32, 'model.bbox_head.feat_channels': 32,
              'model.bbox_head.stacked_convs': 1}),
    'deformable_detr': ('configs/deformable_detr/deformable-detr_vit-t-hybrid_1xb4-demo_shapes.py',
                        {**TWO_LEVELS, 'model.bbox_head.in_features': ('p4', 'p5'),
                         'model.bbox_head.embed_dims': 32, 'model.bbox_head.num_queries': 10,
                         'model.bbox_head.num_decoder_layers': 2, 'model.bbox_head.num_heads': 4,
                         'model.bbox_head.num_points': 2, 'model.bbox_head.ffn_dims': 64}),
    'fpnseg': ('configs/fpnseg/fpnseg_vit-t-hybrid_1xb4-demo_shapes.py',
               {**TINY, 'model.neck.out_channels': 32, 'model.decode_head.channels': 32}),
    'upernet': ('configs/upernet/upernet_vit-t-hybrid_1xb4-demo_shapes.py',
                {**TINY, 'model.neck.out_channels': 32, 'model.decode_head.channels': 32}),
}
# Exported in onnxruntime: FCOS, a DETR-family head, and UPerNet (whose pyramid pooling needs
# the traceable adaptive pooling); the FPN segmentor is checked against its predict only.
PARITY = ('deformable_detr', 'fcos', 'upernet')
# (H, W) of the export: multiples of the configs' pad_size_divisor (64 detectors, 32
# segmentor), at least two of it each way (a size-1 map at tracing would fix the graph)
EXPORT_SHAPE = {'fcos': (128, 192), 'deformable_detr': (128, 192), 'upernet': (64, 96)}
ATOL = {'scores': 1e-4, 'centerness': 1e-4, 'seg_logits': 1e-4, 'boxes': 1e-3}
MAP_MISMATCH = 1e-3
PE_SLOTS = ((TokenPosEncoding, 'pos_embed'), (ConditionalPosEncoding, 'cond_pos_enc'),
            (AttentionPosEncoding, 'attn_pos_enc'))


def cfg_options(overrides: dict) -> list[str]:
    """``--cfg-options`` arguments for ``overrides`` (tuples as Python literals)."""
    return [f'{k}={"None" if v is None else v!r}'.replace(' ', '') for k, v in overrides.items()]


def tiny_model(name: str) -> torch.nn.Module:
    config, overrides = MODELS_UNDER_TEST[name]
    cfg = Config.fromfile(str(ROOT / config))
    cfg.merge_from_dict(overrides)
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """``exported(name)``: (ONNX path, the tool's --verify report, the model with the
    checkpoint's weights), exported once per module by the tool from a saved checkpoint."""
    tool = runpy.run_path(str(TOOL))
    folder = tmp_path_factory.mktemp('onnx')
    done = {}

    def export(name: str):
        if name not in done:
            config, overrides = MODELS_UNDER_TEST[name]
            checkpoint = str(folder / f'{name}.pth')
            save_checkpoint(dict(state_dict=tiny_model(name).state_dict()), checkpoint)
            out = str(folder / f'{name}.onnx')
            shape = EXPORT_SHAPE[name]
            opset = ['--opset', '17'] if name == 'fcos' else []  # the oldest the docs name
            report = tool['main']([str(ROOT / config), checkpoint, '--out', out, '--shape',
                                   str(shape[0]), str(shape[1]), '--dynamic', '--verify',
                                   *opset, '--cfg-options', *cfg_options(overrides)])
            cfg = Config.fromfile(str(ROOT / config))
            cfg.merge_from_dict(overrides)
            done[name] = out, report, init_model(cfg, checkpoint)
        return done[name]
    return export


def check_parity(got: dict[str, np.ndarray], expected: dict[str, torch.Tensor]) -> None:
    assert list(got) == list(expected)
    for name, ref in expected.items():
        ref = ref.numpy()
        assert got[name].shape == ref.shape, name
        if name == 'seg_map':
            assert np.mean(got[name] != ref) <= MAP_MISMATCH
        else:
            np.testing.assert_allclose(got[name], ref, rtol=0, atol=ATOL[name], err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize('name', PARITY)
def test_onnx_matches_pytorch_at_two_sizes(name, exported):
    path, report, model = exported(name)
    wrapper = ExportWrapper(model).eval()
    height, width = EXPORT_SHAPE[name]
    divisor = model.data_preprocessor.pad_size_divisor
    second = (height + divisor, width + 2 * divisor)
    assert sorted(report) == sorted([(height, width), second])  # the tool's --verify sizes
    for size in [(height, width), second, (width, height)]:
        image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1)) * 255
        with torch.no_grad():
            expected = dict(zip(wrapper.output_names, wrapper(image)))
        check_parity(run_onnx(path, image.numpy()), expected)
    assert all(max(diffs.values()) < 1e-3 for diffs in report.values())
    meta = onnx_metadata(path)
    assert meta['outputs'] == list(wrapper.output_names) and meta['dynamic'] is True
    head = model.decode_head if name == 'upernet' else model.bbox_head
    assert meta['size_divisor'] == divisor and len(meta['classes']) == head.num_classes


def predict(model, image: torch.Tensor, sample) -> object:
    """The model's own prediction on a batch of one image of the input's size (no padding, no
    resize: boxes in input pixels)."""
    size = tuple(image.shape[-2:])
    sample.set_metainfo(dict(img_shape=size, ori_shape=size, pad_shape=size,
                             batch_input_shape=size, scale_factor=(1.0, 1.0)))
    inputs = (image - model.data_preprocessor.mean) / model.data_preprocessor.std
    with torch.no_grad():
        return model(inputs, [sample], mode='predict')[0]


def test_fcos_outputs_give_the_models_detections_after_nms():
    """The caller's post-processing of docs/deploy.md (score threshold on the class
    probability, score x centerness, boxes not larger than min_bbox_size dropped, class-aware
    NMS, top max_per_img) on the graph's outputs gives ``predict``'s detections."""
    model = tiny_model('fcos')
    head = model.bbox_head
    head.score_thr = 0.005  # random init: probabilities ~ 0.01 (the prior)
    head.nms_pre = 10**6  # per-level top-k not applied (docs/deploy.md)
    image = torch.rand(1, 3, 64, 128, generator=torch.Generator().manual_seed(2)) * 255
    with torch.no_grad():
        boxes, probs, ctr = ExportWrapper(model)(image)
    wh = boxes[0, :, 2:] - boxes[0, :, :2]  # (N, 2)
    large = (wh > head.min_bbox_size).all(-1, keepdim=True)  # (N, 1)
    point, label = torch.nonzero((probs[0] > head.score_thr) & large, as_tuple=True)
    scores = probs[0, point, label] * ctr[0, point]
    keep = batched_nms(boxes[0, point], scores, label, head.nms_iou_thr)[:head.max_per_img]
    pred = predict(model, image, DetDataSample()).pred_instances
    assert len(keep) > 10
    torch.testing.assert_close(boxes[0, point[keep]], pred.bboxes, rtol=0, atol=1e-4)
    torch.testing.assert_close(scores[keep], pred.scores, rtol=0, atol=1e-6)
    assert torch.equal(label[keep], pred.labels)


def test_detr_outputs_give_the_models_detections_by_topk():
    """Deformable DETR (sigmoid): the top max_per_img (query, class) scores of the graph's
    outputs are ``predict``'s detections, no NMS."""
    model = tiny_model('deformable_detr')
    image = torch.rand(1, 3, 64, 128, generator=torch.Generator().manual_seed(3)) * 255
    with torch.no_grad():
        boxes, scores = ExportWrapper(model)(image)
    num_classes = scores.shape[-1]
    top, flat = scores[0].flatten().topk(min(model.bbox_head.max_per_img, scores[0].numel()))
    pred = predict(model, image, DetDataSample()).pred_instances
    torch.testing.assert_close(top, pred.scores)
    assert torch.equal(flat % num_classes, pred.labels)
    torch.testing.assert_close(boxes[0, flat // num_classes], pred.bboxes, rtol=0, atol=1e-4)


def test_segmentor_outputs_are_the_models_prediction():
    model = tiny_model('fpnseg')
    image = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(4)) * 255
    with torch.no_grad():
        logits, seg_map = ExportWrapper(model)(image)
    pred = predict(model, image, SegDataSample())
    torch.testing.assert_close(logits[0], pred.seg_logits.data)
    assert torch.equal(seg_map, pred.pred_sem_seg.data)


def test_dynamic_export_is_refused_where_the_graph_would_fix_the_size(tmp_path, monkeypatch):
    """Sizes off the divisor, and a PE declaring ``onnx_static_reason`` (none of the built-in
    ones does: a plugin's), are refused before anything is traced."""
    tool = runpy.run_path(str(TOOL))
    config, overrides = MODELS_UNDER_TEST['fpnseg']
    args = [str(ROOT / config), 'none', '--out', str(tmp_path / 'x.onnx'), '--dynamic',
            '--cfg-options', *cfg_options(overrides)]
    with pytest.raises(ValueError, match='multiple of .*pad_size_divisor=32'):
        tool['main'](args + ['--shape', '60', '96'])
    with pytest.raises(ValueError, match='at least 64 each way'):
        tool['main'](args + ['--shape', '32', '96'])
    monkeypatch.setattr(LearnedAbsolutePE, 'onnx_static_reason', 'a table per size')
    with pytest.raises(ValueError, match=r'--dynamic is not possible for this model: '
                       r'backbone.pos_embed \(LearnedAbsolutePE\): a table per size'):
        tool['main'](args + ['--shape', '64', '96'])
    assert not (tmp_path / 'x.onnx').exists()


def pe_cases() -> list:
    cases = [pytest.param(name, getattr(cls, 'TEST_CONFIGS', ({},))[0], 0, id=name)
             for name, cls in sorted(POS_ENCODINGS.module_dict.items())]
    # windowed attention (ViTDet): windows of 3 patches, padded at every size below
    return cases + [pytest.param('LearnedAbsolutePE', {}, 3, id='LearnedAbsolutePE-window3')]


@pytest.mark.slow
@pytest.mark.parametrize('name,extra,window', pe_cases())
def test_every_position_encoding_exports_with_a_dynamic_size(name, extra, window, tmp_path):
    """Each registered PE in its slot of a one-block ViT (cls token, reference grid 4 x 6):
    a PE that declares no ``onnx_static_reason`` gives a graph that is right at the export
    size, which is the reference grid (where shortcuts could fix the size), and at two
    others."""
    cls = POS_ENCODINGS.get(name)
    if cls.onnx_static_reason:
        pytest.skip(f'{name}: {cls.onnx_static_reason}')
    slot = next(slot for base, slot in PE_SLOTS if issubclass(cls, base))
    torch.manual_seed(0)
    vit = ViT(dict(dim=32, depth=1, num_heads=2), img_size=(32, 48), patch_size=8,
              use_cls_token=True, cond_pos_indices=(0, ), window_size=window,
              **{slot: dict(type=name, **extra)})
    vit.eval()
    for param in vit.parameters():  # zero-initialised tables (relative biases) made non-zero
        torch.nn.init.normal_(param, std=0.2)
    wrapper = BackboneOnly(vit)
    path = str(tmp_path / f'{name}.onnx')
    shapes = {'image': {2: 8 * torch.export.Dim('h', min=1, max=64),
                        3: 8 * torch.export.Dim('w', min=1, max=64)}}
    torch.onnx.export(wrapper, (torch.randn(1, 3, 32, 48), ), path, dynamo=True,
                      input_names=['image'], dynamic_shapes=shapes, verbose=False)
    for size in [(32, 48), (48, 24), (40, 64)]:
        image = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            expected = wrapper(image).numpy()
        got = run_onnx(path, image.numpy())
        np.testing.assert_allclose(got[next(iter(got))], expected, rtol=0, atol=1e-4,
                                   err_msg=f'{name} at {size}')


class BackboneOnly(torch.nn.Module):
    """The ViT's last map, under the input name the deploy helpers use."""

    def __init__(self, vit: ViT) -> None:
        super().__init__()
        self.vit = vit

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.vit(image)['p3']


def test_unsupported_models_are_named():
    assert static_size_reasons(tiny_model('fcos')) == {}
    with pytest.raises(TypeError, match='Detector and Segmentor'):
        ExportWrapper(torch.nn.Linear(2, 2))
