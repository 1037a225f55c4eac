"""Checks that dataset files exist, with errors that say where the data should be."""
import os

SHAPES_HINT = ('The built-in dataset is generated with `python -m vitdense.datasets.shapes '
               '--out data/shapes` (a few seconds).')
COCO_HINT = ('COCO goes in data/coco/{annotations,train2017,val2017} '
             "(data_root='data/coco/', ann_file='annotations/instances_train2017.json').")
ADE20K_HINT = ('ADE20K goes in data/ade/ADEChallengeData2016/{images,annotations}/'
               "{training,validation} (data_root='data/ade/ADEChallengeData2016').")


def require_path(path: str, what: str, hint: str) -> None:
    """Raise ``FileNotFoundError`` naming ``path`` (a ``what``) and the hints when it is missing."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} '{path}' does not exist. {hint} {SHAPES_HINT}")
