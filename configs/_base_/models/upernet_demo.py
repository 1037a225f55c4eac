# The demo's UPerNet without its backbone: the 96-wide simple feature pyramid of
# configs/_base_/models/fpnseg_demo.py (p2-p5, with the stem's p2 and p3 as laterals) and its
# decoder's width, dropout, classes and background weight, given to UPerHead over the four
# levels (pyramid pooling on p5), and an FCN auxiliary head on p4 weighing 0.4 of the loss.
_base_ = ['./fpnseg_demo.py']
model = dict(
    decode_head=dict(type='UPerHead', in_features=('p2', 'p3', 'p4', 'p5'),
                     pool_scales=(1, 2, 3, 6)),
    auxiliary_head=dict(
        type='FCNHead', num_classes=_base_.model.decode_head.num_classes, in_features=('p4', ),
        channels=48, num_convs=1, concat_input=False, dropout=0.1,
        loss_decode=dict(_base_.model.decode_head.loss_decode, loss_weight=0.4)))
