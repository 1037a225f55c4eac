from . import cls, det, seg  # noqa: F401
