"""The user docs say what the code does: model_zoo.md lists exactly the shipped configs, the
config snippets of get_started.md build datasets on files in the layouts they describe, the
--cfg-options example of configs.md applies, and relative links resolve."""
import argparse
import glob
import json
import os
import os.path as osp
import re

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from PIL import Image

from vitdense.registry import DATASETS, MODELS
from vitdense.utils import register_all_modules
from vitdense.utils.convert import SOURCES

register_all_modules()
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOCS = osp.join(ROOT, 'docs')
CONFIGS = sorted(osp.relpath(p, osp.join(ROOT, 'configs'))
                 for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


def read(name: str) -> str:
    with open(osp.join(DOCS, name)) as f:
        return f.read()


def block(doc: str, lang: str, first_line: str) -> str:
    """The ``lang`` code block of ``doc`` whose first line is ``first_line``."""
    blocks = re.findall(rf'```{lang}\n(.*?)```', read(doc), flags=re.S)
    found = [b for b in blocks if b.startswith(first_line + '\n')]
    assert len(found) == 1, f'{doc}: {len(found)} {lang} blocks start with {first_line!r}'
    return found[0]


def test_model_zoo_lists_every_shipped_config_once():
    listed = re.findall(r'^\| `([\w./-]+\.py)` \|', read('model_zoo.md'), flags=re.M)
    assert sorted(listed) == CONFIGS


def test_relative_links_resolve():
    for name in ('get_started.md', 'configs.md', 'model_zoo.md'):
        for target in re.findall(r'\]\(([^)#:]+)(?:#[^)]*)?\)', read(name)):
            assert osp.exists(osp.join(DOCS, target)), f'{name} links to missing {target}'
    readme = open(osp.join(ROOT, 'README.md')).read()
    for name in ('get_started.md', 'configs.md', 'model_zoo.md'):
        assert f'(docs/{name})' in readme


def test_weight_conversion_example_names_a_known_source():
    sources = re.findall(r'convert_weights\.py .* --from (\w+)', read('get_started.md'))
    assert sources and set(sources) <= set(SOURCES)


def _image(path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(np.full((61, 93, 3), 90, np.uint8)).save(path)


def _user_config(tmp_path, doc_block: str) -> Config:
    """The block saved as my_configs/x.py next to a configs/ link, as get_started.md says."""
    os.symlink(osp.join(ROOT, 'configs'), tmp_path / 'configs')
    os.makedirs(tmp_path / 'my_configs')
    (tmp_path / 'my_configs' / 'x.py').write_text(doc_block)
    return Config.fromfile(str(tmp_path / 'my_configs' / 'x.py'))


def _build_and_load(cfg: Config) -> None:
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        with DefaultScope.overwrite_default_scope('vitdense'):
            dataset = DATASETS.build(loader.dataset)
        assert dataset.metainfo['classes'] == ('cat', 'dog')
        gt = dataset[0]['data_samples'].gt_instances
        assert gt.labels.tolist() == [1]
    assert cfg.model.bbox_head.num_classes == 2
    MODELS.build(dict(cfg.model, backbone=dict(cfg.model.backbone, arch='test', init_cfg=None)))


def test_own_coco_data_snippet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # data_root 'data/my_coco/' is relative to where tools run
    root = tmp_path / 'data' / 'my_coco'
    for split in ('train', 'val'):
        _image(str(root / split / 'a.jpg'))
        coco = dict(images=[dict(id=7, file_name='a.jpg', width=93, height=61)],
                    annotations=[dict(id=1, image_id=7, category_id=5, bbox=[10, 10, 30, 20],
                                      area=600, iscrowd=0)],
                    categories=[dict(id=2, name='cat'), dict(id=5, name='dog'),
                                dict(id=9, name='bird')])
        os.makedirs(root / 'annotations', exist_ok=True)
        (root / 'annotations' / f'{split}.json').write_text(json.dumps(coco))
    cfg = _user_config(tmp_path, block('get_started.md', 'python', '# own COCO data'))
    assert cfg.val_evaluator.ann_file == 'data/my_coco/annotations/val.json'
    assert cfg.val_dataloader.dataset.type == 'CocoDataset'
    _build_and_load(cfg)


def test_own_yolo_data_snippet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / 'data' / 'my_yolo'
    for split in ('train', 'val'):
        _image(str(root / 'images' / split / 'a.jpg'))
        os.makedirs(root / 'labels' / split, exist_ok=True)
        (root / 'labels' / split / 'a.txt').write_text('1 0.5 0.5 0.25 0.5\n')
    (root / 'data.yaml').write_text(block('get_started.md', 'yaml', 'path: .              # the '
                                          'dataset folder, relative to this file (default: its '
                                          'folder)'))
    cfg = _user_config(tmp_path, block('get_started.md', 'python', '# own YOLO data'))
    assert cfg.val_dataloader.dataset.type == 'YoloDataset' and 'ann_file' not in cfg.val_evaluator
    _build_and_load(cfg)


def test_cfg_options_example_applies():
    text = block('configs.md', 'bash', '.venv/bin/python tools/train.py CONFIG --cfg-options \\')
    args = text.replace('\\\n', ' ').split('--cfg-options', 1)[1].split()
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = parser.parse_args(['--cfg-options', *(a.strip("'") for a in args)]).cfg_options
    cfg = Config.fromfile(osp.join(ROOT, 'configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py'))
    cfg.merge_from_dict(options)
    assert cfg.train_cfg.max_iters == 600 and cfg.param_scheduler[0].end == 100
    assert cfg.optim_wrapper.optimizer.lr == 1e-3 and cfg.model.backbone.init_cfg is None
    model = MODELS.build(cfg.model)
    assert model.data_preprocessor.mean.flatten().tolist() == [0, 0, 0]


def test_every_zoo_figure_names_its_benchmarks_section():
    """Each shapes figure of model_zoo.md names (in quotes, a prefix is enough) a section of
    benchmarks.md, or says it comes from the section named in the row above."""
    sections = re.findall(r'^#+ (.+)$', read('benchmarks.md'), flags=re.M)
    rows = re.findall(r'^\| `[^`]+\.py` \| (.+?) \|', read('model_zoo.md'), flags=re.M)
    assert len(rows) == len(CONFIGS)
    for row in rows:
        if not re.search(r'\d\.\d', row):  # no figure
            assert 'not measured' in row, row
            continue
        names = re.findall(r'"([^"]+)"', row)
        assert names or 'same section' in row, f'no benchmarks.md section named in: {row}'
        for name in names:
            assert any(s.startswith(name) for s in sections), f'{name!r}: no such section'
