# The demo's Segmenter decoder without its backbone: a 2-layer mask transformer at the width of
# the demo ViT (192, 3 heads) on the last block's map.
_base_ = ['./segmentor_demo.py']
model = dict(decode_head=dict(type='SegmenterMaskHead', in_features=('p4', ), num_layers=2))
