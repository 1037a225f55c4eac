# DINO on ViT-B/16 (ViTDet layout: windowed attention, global blocks 2/5/8/11), COCO 2017,
# large-scale jitter at 1024, the method's published schedule (12e) on 8 GPUs x 2 images.
# Initialise the backbone from a converted MAE checkpoint (tools/convert_weights.py) through
# backbone.init_cfg.
_base_ = [
    '../_base_/models/dino_vit.py', '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_dino_12e.py', '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(window_size=14, global_indices=(2, 5, 8, 11), with_checkpoint=False))
