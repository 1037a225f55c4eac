# The `make demo` pretraining model without its backbone (a leaf takes one from a *_demo.py
# backbone base): an 8-way linear classifier of the backbone's stride-16 map p4, averaged.
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=32),
    head=dict(type='LinearClsHead', num_classes=8, in_feature='p4'))
