"""tools/test.py --tta with format_only, through mmengine's Runner, on the ADE20K config.

The config is the ADE20K segmentor's, shrunk (tiny ViT, 64 px windows, two TTA scales) and
pointed at generated shapes images in the ADE20K layout; the checkpoint's weights are
perturbed so that a checkpoint that did not load into the wrapped segmentor would show.
"""
import os
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from vitdense.apis import load_config, prepare_test_cfg
from vitdense.datasets import SHAPES_CLASSES
from vitdense.datasets.shapes import generate_shapes
from vitdense.registry import MODELS

CONFIG = str(Path(__file__).resolve().parents[2] /
             'configs/fpnseg/fpnseg_vit-b-abs_8xb2-160k_ade20k-512x512.py')


def shrunk_config(data_root: str, out_dir: str, path: str) -> str:
    """The ADE20K config with a tiny model, small windows and scales; written to ``path``."""
    cfg = load_config(CONFIG)
    cfg.model.backbone.update(arch='test', img_size=(64, 64))
    cfg.model.update(crop_size=(64, 64), stride=(48, 48), slide_batch_size=4)
    cfg.model.decode_head.num_classes = len(SHAPES_CLASSES)
    resizes = [dict(type='Resize', scale=(int(160 * r), int(80 * r)), keep_ratio=True)
               for r in (0.5, 1.0)]
    cfg.tta_pipeline[1].transforms[0] = resizes
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader.dataset.update(data_root=data_root,
                                       metainfo=dict(classes=SHAPES_CLASSES))
    cfg.test_evaluator = dict(type='IoUMetric', format_only=True, output_dir=out_dir)
    cfg.dump(path)
    return path


def test_tta_format_only_writes_ade20k_server_pngs(tmp_path):
    root = str(tmp_path / 'shapes')
    generate_shapes(root, seed=5, num_train=1, num_val=3)
    out_dir = str(tmp_path / 'pngs')
    config = shrunk_config(root, out_dir, str(tmp_path / 'config.py'))

    # A checkpoint of the plain segmentor, its weights moved away from any fresh init.
    with DefaultScope.overwrite_default_scope('vitdense'):
        model = MODELS.build(load_config(config).model)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)

    cfg = prepare_test_cfg(config, ckpt, str(tmp_path / 'work'), tta=True)
    Runner.from_cfg(cfg).test()

    images = sorted(os.listdir(osp.join(root, 'images/validation')))
    assert sorted(os.listdir(out_dir)) == [osp.splitext(n)[0] + '.png' for n in images]
    # The first image by hand: the same TTA model with the checkpoint's weights.
    with DefaultScope.overwrite_default_scope('vitdense'):
        tta = MODELS.build(dict(type='SegTTAModel', module=model)).eval()
        pipeline = Compose(cfg.tta_pipeline)
    info = dict(img_path=osp.join(root, 'images/validation', images[0]),
                seg_map_path=osp.join(root, 'annotations/validation',
                                      osp.splitext(images[0])[0] + '.png'),
                reduce_zero_label=True, num_classes=len(SHAPES_CLASSES), seg_fields=[])
    with torch.no_grad():
        merged = tta.test_step(pseudo_collate([pipeline(info)]))[0]
    png = cv2.imread(osp.join(out_dir, osp.splitext(images[0])[0] + '.png'),
                     cv2.IMREAD_UNCHANGED)
    image = cv2.imread(info['img_path'])
    assert png.dtype == np.uint8 and png.shape == image.shape[:2]
    assert 1 <= png.min() and png.max() <= len(SHAPES_CLASSES)  # the files' labels: 1..8
    assert (png == merged.pred_sem_seg.data[0].numpy() + 1).all()
