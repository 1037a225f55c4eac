# Deformable DETR (box refinement, two-stage) on the demo backbone (a leaf takes one from a
# *_demo.py backbone base): the demo's 96-wide simple feature pyramid (p3-p6), one deformable
# encoder layer and 3 decoder layers of width 128, 300 queries. The queries are the 300 best of
# ~2,100 encoder proposals (two-stage): with 30, too few of them fell near the <= 9 objects of
# an image for the matched boxes to improve (DINO's matched box loss rose from 1.5 to ~2.7 in 80
# iterations of a bare loop from a random backbone; with 300 it fell to 0.6), and DINO stayed
# at mAP 0.000-0.001 after 600 iterations where it reaches 0.034 with 300 (docs/benchmarks.md,
# issue 9's second round).
_base_ = ['./detector_demo.py']
model = dict(
    bbox_head=dict(
        type='DeformableDETRHead',
        num_classes=8,
        in_features=('p3', 'p4', 'p5', 'p6'),
        embed_dims=128,
        num_queries=300,
        num_encoder_layers=1,
        num_decoder_layers=3,
        num_heads=8,
        num_points=4,
        ffn_dims=512,
        matcher=dict(type='HungarianMatcher', cost_class=2.0, cost_bbox=5.0, cost_giou=2.0,
                     class_cost_type='focal'),
        loss_cls=dict(type='FocalLoss', alpha=0.25, gamma=2.0, loss_weight=2.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_giou=dict(type='GIoULoss', loss_weight=2.0)))
