# The demo's DPT without its backbone: blocks 1, 2, 4 and 5 of the 6-block demo ViT (width 192)
# reassembled to strides 4, 8, 16 and 32 (readout 'ignore': the demo ViT has no cls token),
# fused top-down 64 wide, logits at stride 1; a leaf sets the backbone's out_indices to
# (1, 2, 4, 5).
_base_ = ['./segmentor_demo.py']
model = dict(
    decode_head=dict(type='DPTHead', in_features=('b1', 'b2', 'b4', 'b5'), readout='ignore',
                     reassemble_channels=(24, 48, 96, 192), channels=64))
