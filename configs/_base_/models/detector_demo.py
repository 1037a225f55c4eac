# The `make demo` detector without its backbone and head (a leaf takes a backbone from a *_demo.py
# backbone base; fcos_demo.py, detr_demo.py and deformable-detr_demo.py add the head): a 96-wide
# simple feature pyramid (p3-p6) that adds the backbone's stride-8 map p3 (a hybrid or CNN
# stem's) through a lateral.
model = dict(
    type='Detector',
    # Batches in channels-last memory format: the convolutions (stem, neck, head) run in oneDNN's
    # NHWC layout; the same values, the step 1.04x faster on an AMX Xeon (docs/benchmarks.md,
    # issue 8's twelfth round).
    data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=64,
                           channels_last=True),
    neck=dict(
        type='SimpleFPN',
        in_feature='p4',
        out_channels=96,
        scale_factors=(2.0, 1.0, 0.5),
        top_block=True,
        lateral_features=('p3', )))
