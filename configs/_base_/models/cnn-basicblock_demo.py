# The CNN reference for the demo's dense jobs, written once: the hybrid ViT's stem alone, deeper
# (2, 3, 3 basic blocks; no transformer block), trained from scratch through the same neck,
# head, data and schedule, to tell what the ViT recipe reaches against a plain CNN.
backbone = dict(
    type='StemBackbone',
    dim=192,
    stem=dict(type='BasicBlockStem', widths=(48, 96, 192), depths=(2, 3, 3), stem_channels=32,
              extra_outputs=('p2', 'p3')))
# Its stem has BatchNorm: under several processes, normalise over the global batch (SyncBN;
# on CPU vitdense.engine.sync_bn's; ignored by a single process).
sync_bn = 'torch'
