# The demo's linear probe (DINOv2's linear segmentation head) without its backbone: BatchNorm and
# a 1x1 classifier on the last four blocks of the 6-block demo ViT, concatenated (DINOv2's
# 4-block layout); a leaf sets the backbone's out_indices to (2, 3, 4, 5).
_base_ = ['./segmentor_demo.py']
model = dict(decode_head=dict(type='LinearHead', in_features=('b2', 'b3', 'b4', 'b5')))
