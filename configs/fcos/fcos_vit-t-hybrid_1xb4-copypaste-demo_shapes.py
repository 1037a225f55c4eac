# The demo detector (fcos_vit-t-hybrid_1xb4-demo_shapes.py) trained with copy-paste (Ghiasi et
# al. 2021): each training image also gets up to 10 objects cut out of another one (a random one
# of the last 20 images the loader produced), so a forward pass sees more objects for the same
# compute.
_base_ = ['./fcos_vit-t-hybrid_1xb4-demo_shapes.py']
image_size = {{_base_.image_size}}
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_instance_map=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='CopyPaste', max_num_pasted=10, max_cached_images=20),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
