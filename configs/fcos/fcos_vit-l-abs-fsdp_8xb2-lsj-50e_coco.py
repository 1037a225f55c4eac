# FCOS on ViT-L/16 in the ViTDet layout (Li et al. 2022, arXiv 2203.16527: windowed attention,
# global blocks 6/12/18/24, drop path 0.4), COCO 2017, large-scale jitter at 1024, 50 epochs on
# 8 GPUs x 2 images, sharded with FSDP (each block its own unit, activation checkpointing). The
# ViT-B config's recipe otherwise; initialise the backbone from a converted MAE checkpoint
# (tools/convert_weights.py) through backbone.init_cfg. Launch as any config (tools/dist_train.sh,
# tools/slurm_train.sh); `--amp` does not apply: FSDP's own mixed precision does
# (docs/distributed.md).
_base_ = ['./fcos_vit-b-abs_8xb2-lsj-50e_coco.py', '../_base_/strategies/fsdp_vit.py']
model = dict(
    backbone=dict(arch='large', drop_path_rate=0.4, global_indices=(5, 11, 17, 23)))
optim_wrapper = dict(type='ShardedOptimWrapper')
