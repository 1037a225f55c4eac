# The demo's SETR-MLA decoder without its backbone: top-down aggregation of blocks 1, 3 and 5 of
# the 6-block demo ViT, each stream upsampled 4x (stride 4); a leaf sets the backbone's
# out_indices to (1, 3, 5).
_base_ = ['./segmentor_demo.py']
model = dict(
    decode_head=dict(type='SETRMLAHead', in_features=('b1', 'b3', 'b5'), mla_channels=64,
                     head_channels=32, dropout=0.0))
