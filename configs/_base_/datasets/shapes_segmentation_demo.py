# The demo segmentors' training data, written once: shapes_segmentation.py on 256 px crops,
# tested at 320 like the other shapes segmentors. The frozen backbone's forward is most of their
# step and shrinks with the tokens, so 1,900 iterations took the minutes of 1,300 at 320 px and
# reached mIoU 26.97 / 27.21 against 25.82 / 25.41 (seeds 0 / 1; docs/benchmarks.md, issue 8's
# ninth round).
_base_ = ['./shapes_segmentation.py']
train_size = (256, 256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True),
    dict(type='RandomResize', scale=train_size, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=train_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# Their data loaded in the training process: with a frozen backbone the step is cheap, and a
# loader worker on the same two cores slowed the frozen FPN-fuse segmentor 1.17x
# (docs/benchmarks.md, issue 8's sixth round).
train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline))
