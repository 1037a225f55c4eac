# The `make demo` backbone since issue 8's twelfth round, written once: a hybrid ViT whose
# convolutional stem does most of the work (a 32-wide stride-2 conv, then 2, 3 and 3 basic blocks
# of widths 48, 96 and 192, stride 16, BatchNorm) and 2 transformer blocks of width 192 on its
# tokens; the stem's stride-4 and stride-8 maps (p2, p3) are returned too, for the necks'
# laterals (a classifier ignores them). From scratch on the demo's recipe it reached mAP 0.372
# after 2,600 detector iterations in 11.9 one-thread minutes, where the 6-block hybrid
# (vit-t-hybrid_demo.py) reaches 0.21-0.25 after its crop pretraining and 1,200 iterations in
# about the same minutes; 4 blocks learnt less per minute (docs/benchmarks.md, issue 8's twelfth
# round). The crop pretraining (configs/cls/cls_vit-t2-hybrid_1xb64-demo_shapes-crops.py) trains
# it first; the detector takes `pretrained_backbone`, the same config loading the pretraining's
# last checkpoint from its work dir (tools/train.py's default for that config), and the
# segmentors `detector_backbone`, the demo detector's trained backbone.
# Its 20 x 20 absolute PE is resampled to any input grid.
backbone = dict(
    type='ViT',
    arch=dict(dim=192, depth=2, num_heads=3),
    img_size=(320, 320),
    stem=dict(type='BasicBlockStem', widths=(48, 96, 192), depths=(2, 3, 3), stem_channels=32,
              extra_outputs=('p2', 'p3')),
    pos_embed=dict(type='LearnedAbsolutePE'),
    layer_scale=0.1,
    drop_path_rate=0.0,
    out_indices=(-1, ))
pretrained_backbone = dict(
    backbone,
    init_cfg=dict(type='Pretrained', prefix='backbone.',
                  checkpoint='work_dirs/cls_vit-t2-hybrid_1xb64-demo_shapes-crops'))
detector_backbone = dict(
    backbone,
    init_cfg=dict(type='Pretrained', prefix='backbone.',
                  checkpoint='work_dirs/fcos_vit-t2-hybrid_1xb4-demo_shapes'))
# Its stem has BatchNorm: under several processes, normalise over the global batch (SyncBN;
# on CPU vitdense.engine.sync_bn's; ignored by a single process).
sync_bn = 'torch'
