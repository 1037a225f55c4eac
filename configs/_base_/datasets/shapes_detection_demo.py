# The demo detectors' training data, written once: shapes_detection.py with copy-paste (Ghiasi
# et al. 2021: each image also gets up to 10 objects cut out of a random one of the last 20
# images the loader produced, so a forward pass sees more objects for the same compute; mAP
# +0.021 and +0.017 at 600 iterations, two seeds, issue 8's fifth round in docs/benchmarks.md)
# on 256 px crops (the resize range 0.75-1.25 x 256), tested at 400 like every shapes detector:
# 0.64x the tokens of 320 px make the step ~0.6x as dear, and 900 such iterations, in the minutes
# of 600 at 320 px, reached mAP 0.165 / 0.149 against 0.125 / 0.111 (seeds 0 / 1, ninth round;
# at 600 iterations already 0.126 against 0.125: the smaller views teach as much per iteration).
# The other shapes detectors (plain, DETR family, resolution study) keep shapes_detection.py's
# 320 px, which their figures were measured with.
_base_ = ['./shapes_detection.py']
train_size = (256, 256)
copy_paste_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_instance_map=True),
    dict(type='RandomResize', scale=train_size, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=train_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='CopyPaste', max_num_pasted=10, max_cached_images=20),
    dict(type='PackDetInputs'),
]
# Loaded in the training process: a loader worker on the same two cores made the 2-block demo
# detector's step 1.02-1.13x slower (0.192 / 0.206 s against 0.188 / 0.183, two alternating
# rounds, 2 threads, an AMX Xeon; docs/benchmarks.md, issue 8's thirteenth round).
train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=copy_paste_pipeline))
