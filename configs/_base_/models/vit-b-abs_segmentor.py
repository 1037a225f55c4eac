# A plain ViT-B/16 (learned absolute PE, 512 px) segmentor for ADE20K (150 classes) without its
# decode head, shared by the plain-ViT decoders' ADE20K leaves (linear, setr-*, segmenter),
# which add the head, the backbone's out_indices and the inference windows.
num_classes = 150
model = dict(
    type='Segmentor',
    data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=32),
    backbone=dict(
        type='ViT',
        arch='base',
        img_size=(512, 512),
        patch_size=16,
        pos_embed=dict(type='LearnedAbsolutePE'),
        drop_path_rate=0.1,
        out_indices=(-1, )),
    decode_head=dict(num_classes=num_classes))
