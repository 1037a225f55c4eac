# fcos_vit-t-hybrid_1xb4-demo_shapes.py on the same shapes scenes in the YOLO format (images/ +
# labels/ + data.yaml), written first by
#   python tools/dataset_converters/coco_to_yolo.py (see its docstring: train and val)
# The YOLO copy has no crowd (ignore) boxes, so its mAP is not the COCO-format config's.
_base_ = [
    '../_base_/models/fcos_demo.py', '../_base_/models/vit-t-hybrid_demo.py',
    '../_base_/datasets/yolo_detection.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.pretrained_backbone}})  # FCOSHead num_classes=8: the 8 names
train_cfg = dict(max_iters={{_base_.detector_iters}})
