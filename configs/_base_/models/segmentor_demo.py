# The `make demo` segmentor without its backbone and decode head type, shared by the plain-ViT
# decoders' demo bases (linear, setr-*, segmenter), which add the head: the shapes' 9 classes
# and the background weight of configs/_base_/models/fpnseg_demo.py (background is ~90 % of
# the pixels).
model = dict(
    type='Segmentor',
    data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=32),
    decode_head=dict(
        num_classes=9,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True,
                         class_weight=[0.2] + [1.0] * 8)),
    test_mode='whole')
