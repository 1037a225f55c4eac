# The demo's SETR-PUP decoder without its backbone: 4 x (3x3 conv, BN, ReLU, 2x bilinear) on the
# last block's map, from stride 16 to 1 (32 wide: the last stages run at full resolution).
_base_ = ['./segmentor_demo.py']
model = dict(
    decode_head=dict(type='SETRUPHead', in_features=('p4', ), channels=32, num_convs=4,
                     kernel_size=3, up_scale=2, dropout=0.0))
