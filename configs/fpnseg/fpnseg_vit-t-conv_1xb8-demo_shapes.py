# The old recipe's segmentor (the `make demo` of before issue 8, kept to measure its learning
# curve): a plain ViT-Tiny with a conv stem (no stem maps, so no laterals) and the FPN-fuse
# decoder, fine-tuned from the backbone that configs/cls/cls_vit-t-conv_1xb64-demo_shapes-crops.py
# pretrains: train that first
# (python tools/train.py configs/cls/cls_vit-t-conv_1xb64-demo_shapes-crops.py --amp).
_base_ = [
    '../_base_/models/fpnseg_demo.py', '../_base_/models/vit-t-conv_demo.py',
    '../_base_/datasets/shapes_segmentation.py', '../_base_/schedules/schedule_demo-v1.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.pretrained_backbone}}, neck=dict(lateral_features=()))
train_cfg = dict(max_iters={{_base_.segmentor_iters}})
optim_wrapper = dict(paramwise_cfg={{_base_.finetune_paramwise_cfg}})
train_dataloader = dict(batch_size=8)  # the old recipe's batch (the dataset base's is 4 now)
