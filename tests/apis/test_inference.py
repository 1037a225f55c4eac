import cv2
import numpy as np
import torch
from tiny_models import tiny_model_options

from vitdense.apis import inference_model, init_model, load_config
from vitdense.apis.demo import demo_job


def tiny(config):
    cfg = load_config(config)
    cfg.merge_from_dict(tiny_model_options(config))
    return cfg


def test_detector_predicts_in_original_pixels(tmp_path):
    model = init_model(tiny(demo_job('detector').config))
    img = np.random.default_rng(0).integers(0, 255, (97, 143, 3), dtype=np.uint8)
    path = str(tmp_path / 'img.jpg')
    cv2.imwrite(path, img)
    from_path = inference_model(model, path)
    from_array = inference_model(model, [img])[0]
    assert from_path.ori_shape == (97, 143)
    boxes = from_array.pred_instances.bboxes
    assert (boxes[:, 0::2] <= 143).all() and (boxes[:, 1::2] <= 97).all()


def test_segmentor_round_trips_a_checkpoint(tmp_path):
    cfg = tiny(demo_job('segmentor').config)
    model = init_model(cfg)
    path = str(tmp_path / 'seg.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    loaded = init_model(cfg, path)
    img = np.random.default_rng(1).integers(0, 255, (61, 93, 3), dtype=np.uint8)
    a, b = inference_model(model, img), inference_model(loaded, img)
    assert a.pred_sem_seg.data.shape == (1, 61, 93)
    torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data)


def test_class_names_from_the_dataset_class_or_the_config():
    from vitdense.apis.inference import config_dataset_meta
    cfg = tiny(demo_job('segmentor').config)
    meta = config_dataset_meta(cfg)  # ShapesSegDataset's defaults: the config sets none
    assert meta['classes'][:2] == ('background', 'circle') and meta['background_index'] == 0
    cfg.test_dataloader.dataset.metainfo = dict(classes=('sky', 'cat'))
    meta = init_model(cfg).dataset_meta
    assert meta['classes'] == ('sky', 'cat') and len(meta['palette']) == 2
    assert 'background_index' not in meta  # no 'background' among the classes
