"""LoadImageFromFile and LoadAnnotations: decoding, channel handling, label checks, bad files."""
import cv2
import numpy as np
import pytest

from vitdense.transforms import LoadAnnotations, LoadImageFromFile, loading


def test_grayscale_and_rgba_load_as_three_channel_bgr(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (61, 93), dtype=np.uint8)
    bgra = rng.integers(0, 256, (61, 93, 4), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'gray.png'), gray)
    cv2.imwrite(str(tmp_path / 'bgra.png'), bgra)
    out = LoadImageFromFile()(dict(img_path=str(tmp_path / 'gray.png')))
    assert out['img'].shape == (61, 93, 3) and out['img'].dtype == np.uint8
    assert all((out['img'][..., c] == gray).all() for c in range(3))
    assert out['img_shape'] == out['ori_shape'] == (61, 93)
    out = LoadImageFromFile(to_float32=True)(dict(img_path=str(tmp_path / 'bgra.png')))
    assert out['img'].shape == (61, 93, 3) and out['img'].dtype == np.float32
    assert (out['img'] == bgra[..., :3]).all()


def test_the_decode_cache_returns_copies_and_evicts_the_least_recent(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f'{i}.png'))
        cv2.imwrite(paths[-1], rng.integers(0, 256, (10, 20, 3), dtype=np.uint8))
    load = LoadImageFromFile(cache_bytes=2 * 10 * 20 * 3)  # room for two images
    decoded, real_decode = [], loading.decode
    monkeypatch.setattr(loading, 'decode', lambda path, *a: decoded.append(path) or real_decode(
        path, *a))
    first = load(dict(img_path=paths[0]))['img']
    first[:] = 0  # a later transform writing to its image must not reach the cache
    again = load(dict(img_path=paths[0]))['img']
    assert (again == cv2.imread(paths[0])).all() and decoded == [paths[0]]
    load(dict(img_path=paths[1]))
    load(dict(img_path=paths[0]))  # 0 is now the most recent: 1 goes out for 2
    load(dict(img_path=paths[2]))
    load(dict(img_path=paths[0]))
    assert decoded == [paths[0], paths[1], paths[2]]
    load(dict(img_path=paths[1]))
    assert decoded[-1] == paths[1] and load._cached_bytes <= load.cache_bytes
    with pytest.raises(ValueError, match='cache_bytes must be >= 0'):
        LoadImageFromFile(cache_bytes=-1)


def test_missing_image_names_the_path(tmp_path):
    path = str(tmp_path / 'train' / 'gone.jpg')
    with pytest.raises(FileNotFoundError, match='gone.jpg.*data_prefix'):
        LoadImageFromFile()(dict(img_path=path))


@pytest.mark.parametrize('content', [b'', b'not a jpeg at all', b'\xff\xd8\xff\xe0' + b'0' * 64])
def test_undecodable_image_names_the_file(tmp_path, content):
    path = tmp_path / 'broken.jpg'
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"broken\.jpg' \({len(content)} bytes\) could not be"):
        LoadImageFromFile()(dict(img_path=str(path)))


def test_boxes_labels_and_ignore_flags():
    instances = [dict(bbox=[1, 2, 30, 40], bbox_label=4, ignore_flag=0),
                 dict(bbox=[5.5, 6, 7, 8], bbox_label=0, ignore_flag=1)]
    out = LoadAnnotations()(dict(instances=instances))
    assert out['gt_bboxes'].dtype == np.float32 and out['gt_bboxes'].shape == (2, 4)
    assert out['gt_bboxes'][1].tolist() == [5.5, 6, 7, 8]
    assert out['gt_bboxes_labels'].dtype == np.int64 and out['gt_bboxes_labels'].tolist() == [4, 0]
    assert out['gt_ignore_flags'].tolist() == [False, True]
    empty = LoadAnnotations()(dict(instances=[]))
    assert empty['gt_bboxes'].shape == (0, 4) and empty['gt_bboxes_labels'].shape == (0, )


def _label_file(tmp_path, values) -> str:
    seg = np.zeros((61, 93), np.uint8)
    seg.flat[:len(values)] = values
    path = str(tmp_path / 'label.png')
    cv2.imwrite(path, seg)
    return path


def test_reduce_zero_label_maps_zero_to_ignore(tmp_path):
    path = _label_file(tmp_path, [0, 1, 8, 255, 4])
    load = LoadAnnotations(with_bbox=False, with_label=False, with_seg=True)
    out = load(dict(seg_map_path=path, reduce_zero_label=True, num_classes=8, seg_fields=[]))
    assert out['gt_seg_map'].dtype == np.uint8 and out['gt_seg_map'].shape == (61, 93)
    assert out['gt_seg_map'].flat[:6].tolist() == [255, 0, 7, 255, 3, 255]
    assert out['seg_fields'] == ['gt_seg_map']
    out = load(dict(seg_map_path=path, reduce_zero_label=False, num_classes=9))
    assert out['gt_seg_map'].flat[:6].tolist() == [0, 1, 8, 255, 4, 0]


def test_label_values_beyond_class_count_name_file_and_values(tmp_path):
    path = _label_file(tmp_path, [0, 1, 9, 12, 255, 8])
    load = LoadAnnotations(with_bbox=False, with_label=False, with_seg=True)
    with pytest.raises(ValueError, match=r"label\.png' has values \[9, 12\].*has 8 classes"):
        load(dict(seg_map_path=path, reduce_zero_label=True, num_classes=8))
    with pytest.raises(ValueError, match=r'has values \[9, 12\] above 8.*has 9 classes'):
        load(dict(seg_map_path=path, reduce_zero_label=False, num_classes=9))
    load(dict(seg_map_path=path, reduce_zero_label=False, num_classes=13))  # all valid


def test_label_map_must_match_its_image(tmp_path):
    path = _label_file(tmp_path, [1])
    load = LoadAnnotations(with_bbox=False, with_label=False, with_seg=True)
    with pytest.raises(ValueError, match=r'93x61 \(w x h\) but its image'):
        load(dict(seg_map_path=path, ori_shape=(60, 93), img_path='x.jpg'))
    # a test pipeline may resize the image first: the label map keeps the original size
    out = load(dict(seg_map_path=path, ori_shape=(61, 93), img=np.zeros((30, 46, 3), np.uint8)))
    assert out['gt_seg_map'].shape == (61, 93)
    cv2.imwrite(path, np.zeros((61, 93, 3), np.uint8))
    with pytest.raises(ValueError, match='single-channel'):
        load(dict(seg_map_path=path))


def test_remote_backends_are_refused():
    with pytest.raises(ValueError, match='backend_args'):
        LoadImageFromFile(backend_args=dict(backend='petrel'))
