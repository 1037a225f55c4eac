"""Instance maps (LoadAnnotations(with_instance_map=True)), CopyPaste and MultiImageMixDataset:
pasted objects bring their pixels, class and a box around what was pasted; covered objects lose
their box; every geometric transform keeps the map on its objects."""
import numpy as np
import pytest
from mmengine.config import Config

from vitdense.datasets import MultiImageMixDataset
from vitdense.datasets.shapes import generate_shapes
from vitdense.registry import DATASETS
from vitdense.transforms import CopyPaste, RandomCrop, RandomFlip, RandomResize
from vitdense.transforms.loading import draw_instance_map
from vitdense.utils import register_all_modules

register_all_modules()


def square(x1, y1, x2, y2) -> list[list[int]]:
    """A COCO polygon of the pixels x1..x2-1, y1..y2-1."""
    return [[x1, y1, x2 - 1, y1, x2 - 1, y2 - 1, x1, y2 - 1]]


def test_the_map_draws_each_polygon_and_keeps_an_object_inside_a_hole():
    instances = [dict(mask=square(2, 2, 8, 8)),  # small, listed first: drawn last
                 dict(mask=square(0, 0, 12, 12)),  # its outline covers the small one
                 dict(bbox=[0, 0, 1, 1])]  # no mask: no pixels
    out = draw_instance_map(instances, (16, 20))
    assert out.dtype == np.uint16 and out.shape == (16, 20)
    assert (out[2:8, 2:8] == 1).all()
    assert (out[:12, :12] == 2).sum() == 144 - 36 and (out == 3).sum() == 0
    assert (out[12:] == 0).all() and (out[:, 12:] == 0).all()


def test_rle_masks_are_decoded():
    mask_utils = pytest.importorskip('pycocotools.mask')
    truth = np.zeros((10, 12), np.uint8, order='F')
    truth[3:7, 4:9] = 1
    rle = mask_utils.encode(truth)
    rle['counts'] = rle['counts'].decode()
    out = draw_instance_map([dict(mask=rle)], (10, 12))
    assert ((out == 1) == truth.astype(bool)).all()


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('shapes')) + '/'
    generate_shapes(root, seed=4, num_train=6, num_val=1)
    return root


def train_dataset(root: str, pipeline: list[dict]):
    return DATASETS.build(dict(type='ShapesDataset', data_root=root,
                               ann_file='annotations/instances_train.json',
                               data_prefix=dict(img='train/'), pipeline=pipeline))


def assert_map_on_boxes(results: dict) -> None:
    """Every object with pixels in the map has them inside its box (1 px of rounding)."""
    inst_map, n = results['gt_instance_map'], 0
    for box, iid in zip(results['gt_bboxes'], results['gt_instance_ids']):
        ys, xs = np.nonzero(inst_map == iid)
        if len(xs):
            n += 1
            assert xs.min() >= box[0] - 1 and xs.max() + 1 <= box[2] + 1, (box, xs.min(), xs.max())
            assert ys.min() >= box[1] - 1 and ys.max() + 1 <= box[3] + 1, (box, ys.min(), ys.max())
    assert n > 0


def test_the_map_stays_on_its_boxes_through_resize_crop_and_flip(shapes_root):
    ds = train_dataset(shapes_root, [dict(type='LoadImageFromFile'),
                                     dict(type='LoadAnnotations', with_instance_map=True)])
    np.random.seed(0)
    for i in range(len(ds)):
        results = ds[i]
        assert len(results['gt_instance_ids']) == len(results['gt_bboxes'])
        assert_map_on_boxes(results)
        results = RandomResize(scale=(120, 120), ratio_range=(0.75, 1.25),
                               keep_ratio=True)(results)
        results = RandomCrop(crop_size=(80, 80))(results)
        results = RandomFlip(prob=1.0)(results)
        assert results['gt_instance_map'].shape == results['img'].shape[:2]
        assert len(results['gt_instance_ids']) == len(results['gt_bboxes'])  # crops drop both
        assert_map_on_boxes(results)


def sample(objects: list[tuple[int, tuple[int, int, int, int]]], value: int,
           ignored=()) -> dict:
    """A 20 x 30 image of one colour ``value``: each object (label, xyxy) painted ``value + 1 +
    label``, in the instance map and the label map."""
    img = np.full((20, 30, 3), value, np.uint8)
    inst_map = np.zeros((20, 30), np.uint16)
    seg = np.zeros((20, 30), np.uint8)
    for k, (label, (x1, y1, x2, y2)) in enumerate(objects):
        img[y1:y2, x1:x2] = value + 1 + label
        inst_map[y1:y2, x1:x2] = k + 1
        seg[y1:y2, x1:x2] = label + 1
    return dict(img=img, gt_bboxes=np.array([b for _, b in objects], np.float32).reshape(-1, 4),
                gt_bboxes_labels=np.array([lab for lab, _ in objects], np.int64),
                gt_ignore_flags=np.array([k in ignored for k in range(len(objects))], bool),
                gt_instance_map=inst_map, gt_instance_ids=np.arange(1, len(objects) + 1),
                gt_seg_map=seg, seg_fields=['gt_seg_map', 'gt_instance_map'])


def test_pasted_objects_bring_pixels_class_and_box_and_cover_what_is_under_them():
    dst = sample([(0, (0, 0, 10, 10)), (1, (12, 0, 22, 10)), (2, (0, 12, 30, 20))], value=10)
    # The source's object covers dst's object 0 whole and 4 of dst's 10 columns of object 1.
    src = sample([(3, (0, 0, 16, 10)), (4, (25, 0, 28, 3))], value=100, ignored=(1,))
    src['img'] = src['img'][:, :28]  # a narrower source: pasted top-left, cut to the overlap
    src['gt_instance_map'] = src['gt_instance_map'][:, :28]
    src['gt_seg_map'] = src['gt_seg_map'][:, :28]
    dst['mix_results'] = [src]
    out = CopyPaste(max_num_pasted=5, min_visible=0.5)(dst)
    # Object 0 (fully covered) is gone; 1 keeps 6 / 10 of its pixels and its box; 2 is untouched.
    assert out['gt_bboxes_labels'].tolist() == [1, 2, 3]
    assert out['gt_bboxes'].tolist() == [[12, 0, 22, 10], [0, 12, 30, 20], [0, 0, 16, 10]]
    assert (out['img'][:10, :16] == 104).all() and (out['img'][:10, 16:22] == 12).all()
    assert (out['gt_seg_map'][:10, :16] == 4).all()
    new_id = out['gt_instance_ids'][-1]
    assert new_id not in (1, 2, 3) and (out['gt_instance_map'][:10, :16] == new_id).all()
    assert not out['gt_ignore_flags'].any()  # the ignored source object is never pasted


def test_a_stricter_visibility_drops_the_partly_covered_object():
    dst = sample([(1, (12, 0, 22, 10))], value=10)
    dst['mix_results'] = [sample([(3, (0, 0, 16, 10))], value=100)]
    assert CopyPaste(min_visible=0.7)(dst)['gt_bboxes_labels'].tolist() == [3]


def test_copy_paste_explains_what_it_needs():
    with pytest.raises(ValueError, match='MultiImageMixDataset'):
        CopyPaste()(sample([(0, (0, 0, 5, 5))], value=10))
    dst = sample([(0, (0, 0, 5, 5))], value=10)
    src = sample([(0, (0, 0, 5, 5))], value=10)
    del src['gt_instance_map']
    dst['mix_results'] = [src]
    with pytest.raises(KeyError, match='with_instance_map=True'):
        CopyPaste()(dst)


def test_the_wrapper_hands_each_item_a_source_image(shapes_root):
    inner = train_dataset(shapes_root, [dict(type='LoadImageFromFile'),
                                        dict(type='LoadAnnotations', with_instance_map=True)])
    ds = MultiImageMixDataset(inner, [dict(type='CopyPaste', max_num_pasted=10),
                                      dict(type='PackDetInputs')])
    assert len(ds) == 6 and ds.metainfo['classes'][0] == 'circle'
    np.random.seed(0)
    mixed = [len(ds[i]['data_samples'].gt_instances) for i in range(len(ds))]
    own = [sum(not inst['ignore_flag'] for inst in inner.get_data_info(i)['instances'])
           for i in range(len(ds))]
    assert sum(mixed) > sum(own)  # every item gained pasted objects, a few lost covered ones


def test_the_demo_detector_pastes_from_the_images_before(shapes_root):
    cfg = Config.fromfile('configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py')
    cfg.train_dataloader.dataset.data_root = shapes_root  # where every config has it
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    plain = train_dataset(shapes_root, [])
    np.random.seed(0)
    mixed = [len(ds[i]['data_samples'].gt_instances) for i in range(len(ds))]
    own = [sum(not inst['ignore_flag'] for inst in plain.get_data_info(i)['instances'])
           for i in range(len(ds))]
    assert mixed[0] <= own[0]  # the first image has no cached image to paste from
    assert sum(mixed[1:]) > sum(own[1:])
    copy_paste = ds.pipeline.transforms[-2]
    assert isinstance(copy_paste, CopyPaste) and len(copy_paste.cache) == 6  # under 20: all kept


def test_the_cache_pastes_from_an_earlier_image_and_keeps_at_most_its_size():
    copy_paste = CopyPaste(max_cached_images=2)
    first = copy_paste(sample([(0, (0, 0, 5, 5))], value=10))
    assert first['gt_bboxes_labels'].tolist() == [0]  # nothing cached yet: unchanged
    second = copy_paste(sample([(2, (20, 10, 25, 15))], value=50))
    assert second['gt_bboxes_labels'].tolist() == [2, 0]  # the first image's object joined
    assert (second['img'][:5, :5] == 11).all() and second['gt_bboxes'][1].tolist() == [0, 0, 5, 5]
    for value in (60, 70, 80):
        copy_paste(sample([(1, (0, 0, 3, 3))], value=value))
    assert len(copy_paste.cache) == 2
