# The backbone of the `make demo` recipe before issue 8 (the "old recipe"), written once: a
# plain ViT-Tiny (12 blocks of width 192) on a convolutional patch stem (stride 16). The
# pretraining (configs/cls/cls_vit-t-conv_*) trains it; the detector and the segmentor take
# `pretrained_backbone`: the same config, loading the pretraining's last checkpoint from its
# work dir (tools/train.py's default for that config).
backbone = dict(
    type='ViT',
    arch='tiny',
    img_size=(320, 320),
    stem=dict(type='ConvStem', stride=16, base_channels=32),
    pos_embed=dict(type='LearnedAbsolutePE'),
    drop_path_rate=0.0,
    out_indices=(-1, ))
pretrained_backbone = dict(
    backbone,
    init_cfg=dict(type='Pretrained', prefix='backbone.',
                  checkpoint='work_dirs/cls_vit-t-conv_1xb64-demo_shapes-crops'))
# Its stem has BatchNorm: under several processes, normalise over the global batch (SyncBN;
# on CPU vitdense.engine.sync_bn's; ignored by a single process).
sync_bn = 'torch'
