# DETR on the demo backbone (a leaf takes one from a *_demo.py backbone base): one 96-wide
# stride-16 map (p4) of the demo's simple feature pyramid, no transformer encoder (the ViT
# already encodes), 3 decoder layers of width 128, 30 queries (shapes images hold <= 8 objects).
_base_ = ['./detector_demo.py']
model = dict(
    bbox_head=dict(
        type='DETRHead',
        num_classes=8,
        in_feature='p4',
        embed_dims=128,
        num_queries=30,
        num_encoder_layers=0,
        num_decoder_layers=3,
        num_heads=8,
        ffn_dims=512,
        dropout=0.0,
        matcher=dict(type='HungarianMatcher', cost_class=1.0, cost_bbox=5.0, cost_giou=2.0,
                     class_cost_type='ce'),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, ignore_index=-100,
                      loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_giou=dict(type='GIoULoss', loss_weight=2.0),
        eos_coef=0.1))
# DETR reads one map (p4) of the simple feature pyramid; the other levels' parameters get no
# gradient, which DDP refuses unless it searches the graph for them each step (slower: only
# where a head leaves parameters unused).
find_unused_parameters = True
