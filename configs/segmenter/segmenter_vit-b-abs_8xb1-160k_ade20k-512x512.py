# Segmenter's mask transformer (Strudel et al. 2021, arXiv 2105.05633) on ViT-B/16 (learned
# absolute PE, with the cls token), ADE20K at 512 x 512, 160k iterations on 8 GPUs x 1 image
# (Segmenter's batch of 8), SGD at lr 0.001, sliding-window inference (512 windows, stride
# 480): the published Seg-B/16 mask recipe, as mmseg's config. A 2-layer decoder at the
# backbone's width (768, 12 heads). Initialise the backbone from a converted checkpoint
# (tools/convert_weights.py) through backbone.init_cfg.
_base_ = [
    '../_base_/models/vit-b-abs_segmentor.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_sgd_160k.py', '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(use_cls_token=True),
    decode_head=dict(type='SegmenterMaskHead', in_features=('b11', ), num_layers=2,
                     drop_path=0.1),
    test_mode='slide',
    crop_size={{_base_.crop_size}},
    stride=(480, 480))
train_dataloader = dict(batch_size=1)
