# The 6-block chain's crop-pretraining model (`make demo`'s first job until issue 8's twelfth round)
# without its backbone (a leaf takes one from a *_demo.py backbone base): an 8-way linear classifier
# of the backbone's stride-16 map p4, averaged.
model = dict(
    type='ImageClassifier',
    # Batches in channels-last memory format: the stem's convolutions run in oneDNN's NHWC
    # layout; the same values, the step 1.06x faster on an AMX Xeon (docs/benchmarks.md,
    # issue 8's twelfth round).
    data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=32,
                           channels_last=True),
    head=dict(type='LinearClsHead', num_classes=8, in_feature='p4'))
