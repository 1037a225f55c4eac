# DETR on ViT-B/16's stride-16 map through ViTDet's simple feature pyramid, COCO's 80 classes:
# the paper's decoder (6 layers, 100 queries, 2048-wide FFN, dropout 0.1) without its encoder
# (the ViT already encodes; set num_encoder_layers=6 for the paper's).
_base_ = ['./vit-b-abs_simplefpn.py']
model = dict(
    bbox_head=dict(
        type='DETRHead',
        num_classes=80,
        in_feature='p4',
        embed_dims=256,
        num_queries=100,
        num_encoder_layers=0,
        num_decoder_layers=6,
        ffn_dims=2048,
        dropout=0.1,
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
