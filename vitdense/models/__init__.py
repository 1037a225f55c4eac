from . import backbones, detectors, heads, layers, losses, necks, pos_encodings  # noqa: F401
