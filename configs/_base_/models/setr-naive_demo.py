# The demo's SETR-naive decoder without its backbone: 1x1 conv, BN, ReLU and a 1x1 classifier
# on the last block's map (stride 16).
_base_ = ['./segmentor_demo.py']
model = dict(
    decode_head=dict(type='SETRUPHead', in_features=('p4', ), channels=96, num_convs=1,
                     kernel_size=1, up_scale=1, dropout=0.0))
