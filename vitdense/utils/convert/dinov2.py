"""DINOv2 checkpoints, with and without registers (``facebookresearch/dinov2`` hub weights)."""
import re

from .core import StateDict, register_source, resample_meta
from .timm import convert_timm_layout


@register_source('dinov2')
def convert_dinov2(state_dict: StateDict, source: str) -> tuple[StateDict, dict]:
    """Oquab et al. 2023 (arXiv 2304.07193); registers: Darcet et al. 2023 (arXiv 2309.16588).

    Registers come after cls and get no table row (DINOv2 adds the table before inserting
    them), which ``LearnedAbsolutePE(prefix_entries=1)`` reproduces. The hub models resize the
    table with bicubic interpolation: without registers with ``scale_factor=(n + 0.1) / M``
    and no antialias, with registers size-based (offset 0) with antialias.
    SwiGLU MLPs (``mlp.w12``/``mlp.w3``, the giant model) have no vitdense counterpart.
    """
    # Chunked blocks (block_chunks > 0): blocks.{chunk}.{i}.* -> blocks.{i}.*
    state_dict = {re.sub(r'^blocks\.\d+\.(\d+)\.', r'blocks.\1.', k): v
                  for k, v in state_dict.items()}
    if 'register_tokens' in state_dict:
        resample = resample_meta('bicubic', antialias=True, offset=None)
    else:
        resample = resample_meta('bicubic', antialias=False, offset=0.1)
    return convert_timm_layout(state_dict, source, resample)
