"""The shapes datasets: the generic readers with the shapes classes as their default metainfo."""
import pytest

from vitdense.datasets import (
    SHAPES_CLASSES,
    SHAPES_SEG_CLASSES,
    CocoDataset,
    ObjectCropDataset,
    ShapesCropDataset,
    ShapesDataset,
    ShapesSegDataset,
)

SPLIT = dict(ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'))


@pytest.mark.parametrize('shapes_cls,generic_cls', [(ShapesDataset, CocoDataset),
                                                    (ShapesCropDataset, ObjectCropDataset)])
@pytest.mark.parametrize('classes', [SHAPES_CLASSES, ('star', 'circle')])
def test_default_classes_are_the_shapes_and_an_override_still_wins(shapes_root, shapes_cls,
                                                                   generic_cls, classes):
    metainfo = None if classes == SHAPES_CLASSES else dict(classes=classes)
    ds = shapes_cls(data_root=shapes_root, metainfo=metainfo, **SPLIT)
    same = generic_cls(data_root=shapes_root, metainfo=dict(classes=classes), **SPLIT)
    assert ds.metainfo['classes'] == classes and len(ds.metainfo['palette']) == len(classes)
    assert ds.data_list == same.data_list and len(ds) > 0


def test_generated_categories_are_the_dataset_classes(shapes_root):
    ds = ShapesDataset(data_root=shapes_root, **SPLIT)
    assert ds.cat_ids == list(range(1, len(SHAPES_CLASSES) + 1))


def test_segmentation_learns_background_as_label_0(shapes_root):
    ds = ShapesSegDataset(data_root=shapes_root)
    assert ds.metainfo['classes'] == SHAPES_SEG_CLASSES and ds.metainfo['background_index'] == 0
    assert ds.reduce_zero_label is False and ds.get_data_info(0)['num_classes'] == 9
    assert ShapesSegDataset(data_root=shapes_root, reduce_zero_label=True).reduce_zero_label
