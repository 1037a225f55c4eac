from . import detr  # noqa: F401  (registers the DETR family's matcher and criterion)
from .fcos_assigner import FCOSAssigner
from .fcos_head import FCOSHead

__all__ = ['FCOSAssigner', 'FCOSHead']
