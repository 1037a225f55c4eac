# FCOS on ViT-H/16 in the ViTDet layout (Li et al. 2022, arXiv 2203.16527: windowed attention,
# global blocks 8/16/24/32, drop path 0.5; ViTDet fine-tunes MAE's ViT-H/14 at patch 16),
# COCO 2017, large-scale jitter at 1024, 50 epochs on 8 GPUs x 2 images, sharded with FSDP (each
# block its own unit, activation checkpointing). The ViT-L FSDP config otherwise.
_base_ = ['./fcos_vit-l-abs-fsdp_8xb2-lsj-50e_coco.py']
model = dict(
    backbone=dict(arch='huge', drop_path_rate=0.5, global_indices=(7, 15, 23, 31)))
