from . import det, seg  # noqa: F401
