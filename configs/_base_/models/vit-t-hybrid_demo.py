# The 6-block chain's backbone (`make demo`'s until issue 8's twelfth round, which replaced it by
# vit-t2-hybrid_demo.py; the decoder, DETR-family and resolution-study configs still use it),
# written once: a hybrid ViT-Tiny (6 blocks of width 192) on a
# ResNet-style stem of basic blocks (stride 16, BatchNorm), whose stride-4 and stride-8 maps
# (p2, p3) are returned too, for the necks' laterals (a classifier ignores them). The
# pretraining (configs/cls) trains it; the detector takes `pretrained_backbone`, the same config
# loading the pretraining's last checkpoint from its work dir (tools/train.py's default for that
# config), and the segmentors `detector_backbone`, the detector's backbone (it has seen the shapes
# longer: mIoU 14.2 vs 11.3 after 200 iterations from the pretraining alone, docs/benchmarks.md).
# The demo segmentor takes `detector_init` instead, as its model's init_cfg: every weight it
# shares with the detector, the backbone and the pyramid levels p3-p5 of the neck (mIoU 15.6 vs
# 14.4 after 400 iterations from the backbone alone).
# Its 20 x 20 absolute PE is resampled to any input grid.
backbone = dict(
    type='ViT',
    arch=dict(dim=192, depth=6, num_heads=3),
    img_size=(320, 320),
    stem=dict(type='BasicBlockStem', widths=(48, 96, 192), depths=(1, 2, 2), stem_channels=32,
              extra_outputs=('p2', 'p3')),
    pos_embed=dict(type='LearnedAbsolutePE'),
    layer_scale=0.1,
    drop_path_rate=0.0,
    out_indices=(-1, ))
pretrained_backbone = dict(
    backbone,
    init_cfg=dict(type='Pretrained', prefix='backbone.',
                  checkpoint='work_dirs/cls_vit-t-hybrid_1xb64-demo_shapes-crops'))
detector_backbone = dict(
    backbone,
    init_cfg=dict(type='Pretrained', prefix='backbone.',
                  checkpoint='work_dirs/fcos_vit-t-hybrid_1xb4-demo_shapes'))
detector_init = dict(type='Pretrained', checkpoint='work_dirs/fcos_vit-t-hybrid_1xb4-demo_shapes')
# Its stem has BatchNorm: under several processes, normalise over the global batch (SyncBN;
# on CPU vitdense.engine.sync_bn's; ignored by a single process).
sync_bn = 'torch'
