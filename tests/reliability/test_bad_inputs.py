"""A corpus of bad inputs, generated here, at every entry point: each gets an error naming the
input, a documented and counted skip, or (where it is a valid input after all) a correct result.
docs/reliability.md lists them with the outcome of each."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from PIL import Image
from reliability_helpers import CONFIG, ToyModel

from vitdense.apis import load_config, prepare_test_cfg, prepare_train_cfg
from vitdense.datasets import CocoDataset
from vitdense.engine import CheckpointFitHook
from vitdense.registry import MODELS
from vitdense.transforms import LoadAnnotations, LoadImageFromFile

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = (96, 96)
RNG = np.random.default_rng(0)
IMAGE = (RNG.random((40, 56, 3)) * 255).astype(np.uint8)

TRAIN = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
         dict(type='RandomResize', scale=SIZE, ratio_range=(0.75, 1.25), keep_ratio=True),
         dict(type='RandomCrop', crop_size=SIZE), dict(type='RandomFlip', prob=0.5),
         dict(type='PackDetInputs')]
TEST = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=SIZE, keep_ratio=True),
        dict(type='PackDetInputs')]


def write_bytes(folder, name: str, data: bytes) -> str:
    path = str(folder / name)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def encoded(ext: str, img: np.ndarray) -> bytes:
    return cv2.imencode(ext, img)[1].tobytes()


# ---------------------------------------------------------------- images that cannot be read


@pytest.fixture(scope='module')
def unreadable(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp('unreadable')
    jpg, png = encoded('.jpg', IMAGE), encoded('.png', IMAGE)
    return {
        'truncated JPEG': write_bytes(d, 'trunc.jpg', jpg[:len(jpg) * 9 // 10]),
        'truncated PNG': write_bytes(d, 'trunc.png', png[:len(png) // 2]),
        'zero-byte file': write_bytes(d, 'empty.jpg', b''),
        'text with an image extension': write_bytes(d, 'notes.png', b'not an image\n'),
    }


@pytest.mark.parametrize('case', ['truncated JPEG', 'truncated PNG', 'zero-byte file',
                                  'text with an image extension'])
def test_an_unreadable_image_fails_naming_the_file_or_is_skipped(unreadable, case):
    path = unreadable[case]
    with pytest.raises(ValueError, match=f"Image file '{path}' .* could not be decoded"):
        LoadImageFromFile().transform(dict(img_path=path))
    assert LoadImageFromFile(on_error='skip').transform(dict(img_path=path)) is None


def test_a_missing_image_fails_naming_the_file(tmp_path):
    path = str(tmp_path / 'gone.jpg')
    with pytest.raises(FileNotFoundError, match=f"Image file '{path}' does not exist"):
        LoadImageFromFile().transform(dict(img_path=path))


# --------------------------------------------------------- odd images that are valid images


@pytest.fixture(scope='module')
def odd_images(tmp_path_factory) -> dict[str, tuple[str, np.ndarray]]:
    """Each odd image and the BGR uint8 array it should load as."""
    d = tmp_path_factory.mktemp('odd')
    deep = (RNG.random((20, 30, 3)) * 65535).astype(np.uint16)
    cmyk = str(d / 'cmyk.jpg')
    Image.new('CMYK', (30, 20), (0, 255, 255, 0)).save(cmyk)  # pure red in CMYK
    red = np.zeros((20, 30, 3), np.uint8)
    red[..., 2] = 255
    return {
        'PNG named .jpg': (write_bytes(d, 'png.jpg', encoded('.png', IMAGE)), IMAGE),
        '1x1 image': (write_bytes(d, 'one.png', encoded('.png', IMAGE[:1, :1])), IMAGE[:1, :1]),
        '16-bit PNG': (write_bytes(d, 'deep.png', encoded('.png', deep)),
                       (deep >> 8).astype(np.uint8)),
        'CMYK JPEG': (cmyk, red),
        '1x4000 image': (write_bytes(d, 'thin.png', encoded('.png', np.full((1, 4000, 3), 9,
                                                                            np.uint8))),
                         np.full((1, 4000, 3), 9, np.uint8)),
    }


@pytest.fixture(scope='module')
def tiny_detector():
    cfg = load_config(osp.join(ROOT, CONFIG))
    cfg.model.backbone.update(arch='test', img_size=SIZE, init_cfg=None)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('case', ['PNG named .jpg', '1x1 image', '16-bit PNG', 'CMYK JPEG',
                                  '1x4000 image'])
def test_an_odd_image_loads_as_8bit_bgr_and_trains_and_predicts(odd_images, tiny_detector, case):
    """Decoded by content, not extension; 16 bits scaled to 8 (OpenCV keeps the high byte); CMYK
    converted to BGR (within JPEG error); through the training pipeline to a finite loss and the
    test pipeline to boxes inside the original image."""
    path, expected = odd_images[case]
    img = LoadImageFromFile().transform(dict(img_path=path))['img']
    assert img.dtype == np.uint8 and img.shape == expected.shape
    tol = 3 if case == 'CMYK JPEG' else 0
    assert np.abs(img.astype(int) - expected).max() <= tol
    h, w = expected.shape[:2]
    box = dict(bbox=[0, 0, max(w / 2, 1), max(h / 2, 1)], bbox_label=0, ignore_flag=0)
    train = Compose(TRAIN)(dict(img_path=path, img_id=0, instances=[box]))
    test = Compose(TEST)(dict(img_path=path, img_id=0))
    model = tiny_detector
    batch = model.data_preprocessor(dict(inputs=[train['inputs']],
                                         data_samples=[train['data_samples']]), True)
    losses = model(**batch, mode='loss')
    assert all(torch.isfinite(v).all() for v in losses.values())
    model.eval()
    with torch.no_grad():
        pred = model.test_step(dict(inputs=[test['inputs']], data_samples=[test['data_samples']]))
    model.train()
    boxes = pred[0].pred_instances.bboxes
    assert torch.isfinite(boxes).all()
    assert (boxes[:, 2] <= w + 1e-3).all() and (boxes[:, 3] <= h + 1e-3).all()


# ------------------------------------------------------------------------ label maps


def test_a_label_png_of_another_size_than_its_image_fails_naming_both(tmp_path):
    label = write_bytes(tmp_path, 'label.png', encoded('.png', np.zeros((30, 40), np.uint8)))
    results = dict(img_path='img.jpg', seg_map_path=label, ori_shape=(40, 56))
    with pytest.raises(ValueError, match=r"Label file '.*label\.png' is 40x30 \(w x h\) but its "
                                         r"image 'img\.jpg' is 56x40"):
        LoadAnnotations(with_bbox=False, with_label=False, with_seg=True).transform(results)


# ------------------------------------------------------------------------ COCO JSON


def coco(images=None, annotations=None, categories=None) -> dict:
    return dict(
        images=images if images is not None else [
            dict(id=1, file_name='a.jpg', width=50, height=40),
            dict(id=2, file_name='b.jpg', width=50, height=40)],
        annotations=annotations if annotations is not None else [
            dict(id=1, image_id=1, category_id=1, bbox=[1, 2, 10, 10], iscrowd=0)],
        categories=categories if categories is not None else [dict(id=1, name='square')])


def load_coco(tmp_path, content: dict) -> CocoDataset:
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(content))
    return CocoDataset(ann_file=str(path), metainfo=dict(classes=('square', )))


def boxes_of(dataset: CocoDataset) -> list:
    return [[i['bbox'] for i in dataset.get_data_info(k)['instances']]
            for k in range(len(dataset))]


@pytest.mark.parametrize('content,message', [
    ({'images': []}, "has no 'categories' list"),
    (coco(images=[dict(id=1, file_name='a.jpg', width=5)]), "lacks \\['height'\\]"),
    (coco(annotations=[dict(id=7, image_id=1, bbox=[0, 0, 4, 4])]),
     "Annotation 7 in .* lacks \\['category_id'\\]"),
    (coco(annotations=[dict(id=7, image_id=1, category_id=1, bbox=[0, 0, 4])]),
     'Annotation 7 .* has bbox \\[0, 0, 4\\]; COCO boxes are \\[x, y, width, height\\]'),
    (coco(images=[dict(id=1, file_name='a.jpg', width=5, height=5),
                  dict(id=1, file_name='b.jpg', width=5, height=5)]),
     "two images with id 1 \\('a.jpg' and 'b.jpg'\\)"),
], ids=['no categories', 'image without height', 'annotation without category_id',
        'bbox of 3 numbers', 'duplicate image ids'])
def test_a_malformed_coco_file_fails_naming_the_record(tmp_path, content, message):
    with pytest.raises(ValueError, match=message):
        load_coco(tmp_path, content)


def test_annotations_of_unknown_images_or_categories_are_skipped_and_counted(tmp_path):
    anns = coco()['annotations'] + [
        dict(id=2, image_id=99, category_id=1, bbox=[0, 0, 5, 5]),
        dict(id=3, image_id=1, category_id=42, bbox=[0, 0, 5, 5])]
    with pytest.warns(UserWarning, match="skipped 1 annotations whose image_id is not in "
                                         "'images' and 1 whose category_id is not in"):
        dataset = load_coco(tmp_path, coco(annotations=anns))
    assert boxes_of(dataset) == [[[1.0, 2.0, 11.0, 12.0]], []]


def test_negative_and_nan_boxes_are_dropped_and_counted(tmp_path):
    anns = coco()['annotations'] + [
        dict(id=2, image_id=1, category_id=1, bbox=[5, 5, -3, 4]),
        dict(id=3, image_id=1, category_id=1, bbox=[-20, -20, 5, 5]),
        dict(id=4, image_id=2, category_id=1, bbox=[float('nan'), 1, 4, 4]),
        dict(id=5, image_id=2, category_id=1, bbox=[1, 1, float('inf'), 4])]
    with pytest.warns(UserWarning, match='dropped 4 boxes that are empty, not finite or outside'):
        dataset = load_coco(tmp_path, coco(annotations=anns))
    assert boxes_of(dataset) == [[[1.0, 2.0, 11.0, 12.0]], []]


def test_short_polygons_and_rle_masks_do_not_affect_the_boxes(tmp_path):
    """The dataset serves boxes; ``segmentation`` is not read, whatever its form."""
    anns = [dict(id=1, image_id=1, category_id=1, bbox=[1, 2, 10, 10],
                 segmentation=[[1, 2, 3, 4]]),
            dict(id=2, image_id=2, category_id=1, bbox=[0, 0, 8, 8], iscrowd=1,
                 segmentation=dict(counts='abc', size=[40, 50]))]
    dataset = load_coco(tmp_path, coco(annotations=anns))
    assert boxes_of(dataset) == [[[1.0, 2.0, 11.0, 12.0]], [[0.0, 0.0, 8.0, 8.0]]]
    assert dataset.get_data_info(1)['instances'][0]['ignore_flag'] == 1


# ------------------------------------------------------------------------ configs


@pytest.mark.parametrize('key,value,message', [
    ('depth', 2, "Config of type='ViT': unknown key 'depth'; ViT takes \\['arch'"),
    ('drop_path_rat', 0.1, "unknown key 'drop_path_rat' \\(did you mean 'drop_path_rate'\\?\\)"),
    ('drop_path_rate', '0.1', "Config of type='ViT': drop_path_rate='0.1' is a str, but ViT "
                              "takes float for 'drop_path_rate'"),
])
def test_a_config_with_an_unknown_key_or_a_wrong_type_fails_naming_key_and_module(key, value,
                                                                                   message):
    cfg = load_config(osp.join(ROOT, CONFIG))
    cfg.model.backbone.update(arch='test', init_cfg=None, **{key: value})
    with pytest.raises(TypeError, match=message):
        MODELS.build(cfg.model)


# ------------------------------------------------------------------------ checkpoints


class FakeRunner:
    def __init__(self, model):
        self.model = model
        self._load_from = 'other.pth'


def test_a_checkpoint_of_another_model_is_refused_naming_the_keys():
    other = {'backbone.w': torch.zeros(3), 'head.b': torch.zeros(2)}
    with pytest.raises(ValueError, match=r"Checkpoint 'other\.pth' does not fit ToyModel: 0 of "
                                         r"the model's 2 weights fit; missing \(2\): net\.weight, "
                                         r'net\.bias; unexpected \(2\): backbone\.w, head\.b'):
        CheckpointFitHook().after_load_checkpoint(FakeRunner(ToyModel()),
                                                  dict(state_dict=other))


def test_a_partly_fitting_checkpoint_trains_but_does_not_test():
    """Fine-tuning from a checkpoint whose head has other shapes is normal (require='any');
    testing with it would evaluate random weights (tools/test.py: require='all')."""
    sd = ToyModel().state_dict()
    sd['net.weight'] = torch.zeros(3, 4)
    CheckpointFitHook('any').after_load_checkpoint(FakeRunner(ToyModel()), dict(state_dict=sd))
    with pytest.raises(ValueError, match=r"1 of the model's 2 weights fit; mismatched \(1\): "
                                         r'net\.weight: \(3, 4\) vs \(1, 4\)'):
        CheckpointFitHook('all').after_load_checkpoint(FakeRunner(ToyModel()),
                                                       dict(state_dict=sd))


def test_tools_test_requires_every_weight_and_training_any(tmp_path):
    def fit_hooks(cfg):
        return [h for h in cfg.custom_hooks if h['type'] == 'CheckpointFitHook']

    config = osp.join(ROOT, CONFIG)
    assert fit_hooks(prepare_test_cfg(config, 'x.pth', str(tmp_path))) == [
        dict(type='CheckpointFitHook', require='all')]
    assert fit_hooks(prepare_train_cfg(config, str(tmp_path))) == [
        dict(type='CheckpointFitHook', require='any')]
