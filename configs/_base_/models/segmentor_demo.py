# The `make demo` segmentor without its backbone and decode head type, shared by the decoders'
# demo bases (fpnseg, linear, setr-*, segmenter, dpt, upernet), which add the head: the shapes'
# 9 classes (background included) and the background's weight. Background is ~90 % of the
# pixels: at weight 1 the decoder predicts it everywhere for hundreds of iterations (mIoU_fg 1.0
# after 200); at 0.2, 4.4 (docs/benchmarks.md).
model = dict(
    type='Segmentor',
    # Batches in channels-last memory format: the convolutions (stem, neck, head) run in oneDNN's
    # NHWC layout; the same values, the step 1.06x faster on an AMX Xeon (docs/benchmarks.md,
    # issue 8's twelfth round).
    data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=32,
                           channels_last=True),
    decode_head=dict(
        num_classes=9,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True,
                         class_weight=[0.2] + [1.0] * 8)),
    test_mode='whole')
