# SETR's ADE20K schedule: the SGD 160k one, with the decode and auxiliary heads at 10 x the
# backbone's learning rate (mmseg's custom key 'head').
_base_ = ['./schedule_sgd_160k.py']
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0)}))
auto_scale_lr = dict(base_batch_size=16)  # its configs train on 8 x 2 images
