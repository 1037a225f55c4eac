from . import (  # noqa: F401
    backbones,
    classifiers,
    detectors,
    heads,
    layers,
    losses,
    necks,
    pos_encodings,
    transformers,
)
