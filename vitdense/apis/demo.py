"""What `make demo` runs, and how its results are read and shown."""
import glob
import json
import os.path as osp
from dataclasses import dataclass

from vitdense.evaluation.table import format_table as table
from vitdense.utils.work_dir import default_work_dir, last_checkpoint

__all__ = ['COLUMNS', 'DEMO_JOBS', 'DemoJob', 'demo_job', 'format_table', 'last_checkpoint',
           'read_test_metrics']


@dataclass(frozen=True)
class DemoJob:
    """One `make demo` training, in tools/train.py's default work dir for its config.

    Attributes:
        name: the job's name.
        config: the config it trains and tests.
        backbone_from: the job whose last checkpoint initialises this job's backbone: the
            config's ``model.backbone.init_cfg.checkpoint`` (prefix ``backbone.``) or, to
            start from every weight the two models share, ``model.init_cfg.checkpoint`` names
            that job's work dir.
        draw: whether tools/test.py draws its predictions (dense jobs).
        tta: whether tools/test.py tests it with the config's test-time augmentation
            (``--tta``); the table says so beside its name.
    """

    name: str
    config: str
    backbone_from: str | None = None
    draw: bool = True
    tta: bool = False

    @property
    def work_dir(self) -> str:
        """``work_dirs/<config name>``, as ``python tools/train.py CONFIG`` uses."""
        return default_work_dir(self.config)


# No pretrained weights can be downloaded here. The demo's hybrid ViT, a deep convolutional stem
# and 2 transformer blocks, is first pretrained on object crops (cheap views of which shape an
# object is, what the detector learns slowest), then fine-tuned as the detector; the segmentor
# starts from the detector's backbone. (The pretraining and 1,900 detector iterations reached mAP
# 0.40 where 2,400 iterations from scratch, in the same minutes, reached 0.34-0.36;
# docs/benchmarks.md, issue 8's thirteenth round.)
DEMO_JOBS = (
    DemoJob('pretrain', 'configs/cls/cls_vit-t2-hybrid_1xb64-demo_shapes-crops.py', draw=False),
    DemoJob('detector', 'configs/fcos/fcos_vit-t2-hybrid_1xb4-demo_shapes.py',
            backbone_from='pretrain'),
    # tested with its horizontal mirror too (shapes_segmentation.py's tta_pipeline): +2.0 mIoU
    # for ~20 s (docs/benchmarks.md, issue 8's eleventh round)
    DemoJob('segmentor', 'configs/setr_mla/setr-mla_vit-t2-hybrid_1xb4-demo_shapes.py',
            backbone_from='detector', tta=True),
)
COLUMNS = ('accuracy/top1', 'coco/bbox_mAP', 'coco/bbox_mAP_50', 'mIoU', 'mIoU_fg', 'aAcc')


def demo_job(name: str) -> DemoJob:
    """The demo job called ``name``."""
    for job in DEMO_JOBS:
        if job.name == name:
            return job
    raise KeyError(f"No demo job {name!r}; the jobs are {[j.name for j in DEMO_JOBS]}")


def read_test_metrics(work_dir: str) -> dict[str, float]:
    """The metrics of the newest test run in ``work_dir`` (mmengine's ``<stamp>/<stamp>.json``)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')), key=osp.getmtime)
    if not files:
        raise FileNotFoundError(f'No test results under {work_dir!r}: did tools/test.py run?')
    with open(files[-1]) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return {k: v for line in lines for k, v in line.items() if k in COLUMNS}


def format_table(rows: list[tuple[DemoJob, float, dict[str, float], str | None]]) -> str:
    """rows: (job, wall seconds of its training and test, metrics, folder of drawn predictions
    or None) -> a table (:func:`vitdense.evaluation.table.format_table`) and where the
    predictions are drawn."""
    body = [(osp.basename(job.config) + (' (flip TTA)' if job.tta else ''), f'{secs / 60:.1f} min',
             *(f'{metrics[c]:.3f}' if c.startswith('coco') and c in metrics else
               f'{metrics[c]:.2f}' if c in metrics else '-' for c in COLUMNS))
            for job, secs, metrics, _ in rows]
    out = [table(('config', 'wall time') + COLUMNS, body)]
    out += [f'Predictions drawn for {job.name}: {vis}' for job, _, _, vis in rows if vis]
    return '\n'.join(out)
