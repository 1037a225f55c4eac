# The old recipe's detector (the `make demo` of before issue 8, kept to measure its learning
# curve): FCOS on a plain ViT-Tiny with a conv stem (no stem maps, so no lateral), fine-tuned
# from the backbone that configs/cls/cls_vit-t-conv_1xb64-demo_shapes-crops.py pretrains: train
# that first (python tools/train.py configs/cls/cls_vit-t-conv_1xb64-demo_shapes-crops.py --amp).
_base_ = [
    '../_base_/models/fcos_demo.py', '../_base_/models/vit-t-conv_demo.py',
    '../_base_/datasets/shapes_detection.py', '../_base_/schedules/schedule_demo-v1.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.pretrained_backbone}}, neck=dict(lateral_features=()))
train_cfg = dict(max_iters={{_base_.detector_iters}})
optim_wrapper = dict(paramwise_cfg={{_base_.finetune_paramwise_cfg}})
train_dataloader = dict(batch_size=8)  # the old recipe's batch (the dataset base's is 4 now)
