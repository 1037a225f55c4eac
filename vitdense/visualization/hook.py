"""A test-time hook that writes images with the predictions drawn on them."""
import os.path as osp

import cv2
import mmengine
from mmengine.dist import master_only
from mmengine.hooks import Hook

from vitdense.registry import HOOKS

from .draw import bgr_palette, draw_detections, draw_segmentation


@HOOKS.register_module()
class DrawPredictionsHook(Hook):
    """After each test iteration, draw predictions on up to ``max_images`` images as PNGs.

    Only rank 0 draws (mmdet's visualizer does the same): under N processes these are the images
    rank 0 evaluates (every N-th), and no two processes write the same file (the sampler pads
    the last batch with images of the first).

    Detection samples get boxes with class and score; segmentation samples a colour mask, in
    which the dataset's background class (metainfo ``background_index``, if set) is transparent.

    Args:
        out_dir: folder for the PNGs; default ``<work_dir>/<timestamp>/vis``.
        max_images: stop after this many images.
        score_thr: boxes below this score are not drawn.
    """

    def __init__(self, out_dir: str | None = None, max_images: int = 8, score_thr: float = 0.3):
        self.out_dir = out_dir
        self.max_images = max_images
        self.score_thr = score_thr
        self.written: list[str] = []

    @master_only
    def before_test(self, runner) -> None:
        self.out_dir = self.out_dir or osp.join(runner.log_dir, 'vis')
        mmengine.mkdir_or_exist(self.out_dir)
        self.written = []

    @master_only
    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        meta = runner.test_evaluator.dataset_meta
        classes = meta['classes']
        palette = bgr_palette(meta)
        for sample in outputs or []:
            if len(self.written) >= self.max_images:
                return
            img = cv2.imread(sample.img_path, cv2.IMREAD_COLOR)
            if 'pred_instances' in sample:
                pred = sample.pred_instances
                img = draw_detections(img, pred.bboxes.cpu().numpy(), pred.labels.cpu().numpy(),
                                      pred.scores.cpu().numpy(), classes, self.score_thr, palette)
            if 'pred_sem_seg' in sample:
                seg = sample.pred_sem_seg.data[0].cpu().numpy()
                img = draw_segmentation(img, seg, len(classes), palette=palette,
                                        background_index=meta.get('background_index'))
            name = osp.splitext(osp.basename(sample.img_path))[0] + '.png'
            path = osp.join(self.out_dir, name)
            cv2.imwrite(path, img)
            self.written.append(path)

    def after_test(self, runner) -> None:
        if self.written:
            runner.logger.info(f'Wrote {len(self.written)} images with predictions to '
                               f'{self.out_dir}')
