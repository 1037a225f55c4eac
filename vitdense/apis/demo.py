"""What `make demo` runs, and how its results are read and shown."""
import glob
import json
import os.path as osp
from dataclasses import dataclass


@dataclass(frozen=True)
class DemoJob:
    """One `make demo` training.

    Attributes:
        name: the job's name (its work dir under the demo's work root).
        config: the config it trains and tests.
        backbone_from: the job whose last checkpoint initialises this job's backbone
            (``model.backbone.init_cfg.checkpoint``), or None.
        draw: whether tools/test.py draws its predictions (dense jobs).
    """

    name: str
    config: str
    backbone_from: str | None = None
    draw: bool = True


# No pretrained weights can be downloaded here, and a ViT learns the shapes far faster from a
# backbone that already tells them apart (docs/benchmarks.md): the demo first pretrains it on
# object crops, then fine-tunes the detector and the segmentor from it.
DEMO_JOBS = (
    DemoJob('pretrain', 'configs/cls/cls_vit-t-conv_1xb64-demo_shapes-crops.py', draw=False),
    DemoJob('detector', 'configs/fcos/fcos_vit-t-conv_1xb8-demo_shapes.py',
            backbone_from='pretrain'),
    DemoJob('segmentor', 'configs/fpnseg/fpnseg_vit-t-conv_1xb8-demo_shapes.py',
            backbone_from='pretrain'),
)
COLUMNS = ('accuracy/top1', 'coco/bbox_mAP', 'coco/bbox_mAP_50', 'mIoU', 'aAcc')


def demo_job(name: str) -> DemoJob:
    """The demo job called ``name``."""
    for job in DEMO_JOBS:
        if job.name == name:
            return job
    raise KeyError(f"No demo job {name!r}; the jobs are {[j.name for j in DEMO_JOBS]}")


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint path mmengine's CheckpointHook recorded last in ``work_dir``."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        raise FileNotFoundError(f'{marker!r} is missing: did training finish?')
    with open(marker) as f:
        return f.read().strip()


def read_test_metrics(work_dir: str) -> dict[str, float]:
    """The metrics of the newest test run in ``work_dir`` (mmengine's ``<stamp>/<stamp>.json``)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')), key=osp.getmtime)
    if not files:
        raise FileNotFoundError(f'No test results under {work_dir!r}: did tools/test.py run?')
    with open(files[-1]) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return {k: v for line in lines for k, v in line.items() if k in COLUMNS}


def format_table(rows: list[tuple[DemoJob, float, dict[str, float], str | None]]) -> str:
    """rows: (job, wall seconds, metrics, folder of drawn predictions or None) -> a table."""
    head = ('config', 'wall time') + COLUMNS
    body = [(osp.basename(job.config), f'{secs / 60:.1f} min',
             *(f'{metrics[c]:.3f}' if c.startswith('coco') and c in metrics else
               f'{metrics[c]:.2f}' if c in metrics else '-' for c in COLUMNS))
            for job, secs, metrics, _ in rows]
    widths = [max(len(str(r[i])) for r in [head] + body) for i in range(len(head))]
    line = '+'.join('-' * (w + 2) for w in widths)
    fmt = lambda r: ' | '.join(str(v).ljust(w) for v, w in zip(r, widths))  # noqa: E731
    out = [line, fmt(head), line] + [fmt(r) for r in body] + [line]
    out += [f'Predictions drawn for {job.name}: {vis}' for job, _, _, vis in rows if vis]
    return '\n'.join(out)
