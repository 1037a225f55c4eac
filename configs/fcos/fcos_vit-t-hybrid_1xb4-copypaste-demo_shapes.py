# The demo detector (fcos_vit-t-hybrid_1xb4-demo_shapes.py) trained with copy-paste (Ghiasi et
# al. 2021): each training image also gets objects cut out of another one, so a forward pass
# sees more objects for the same compute. Each image is loaded, resized and cropped by its own
# pipeline; MultiImageMixDataset then pastes and packs.
_base_ = ['./fcos_vit-t-hybrid_1xb4-demo_shapes.py']
image_size = {{_base_.image_size}}
train_dataloader = dict(dataset=dict(
    _delete_=True,
    type='MultiImageMixDataset',
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root={{_base_.data_root}},
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=2),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_instance_map=True),
            dict(type='RandomResize', scale=image_size, ratio_range=(0.75, 1.25),
                 keep_ratio=True),
            dict(type='RandomCrop', crop_size=image_size),
            dict(type='RandomFlip', prob=0.5),
        ]),
    pipeline=[dict(type='CopyPaste', max_num_pasted=10), dict(type='PackDetInputs')]))
