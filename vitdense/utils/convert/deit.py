"""DeiT (distilled or not) and DeiT-III checkpoints (``facebookresearch/deit``)."""
from .core import StateDict, register_source, resample_meta
from .timm import convert_timm_layout


@register_source('deit', 'deit3')
def convert_deit(state_dict: StateDict, source: str) -> tuple[StateDict, dict]:
    """Touvron et al. 2021 (arXiv 2012.12877) and 2022, "DeiT III" (arXiv 2204.07118).

    DeiT resizes position tables with bicubic interpolation and no antialias. A distilled
    model's ``dist_token`` becomes register token 0, with its own table row; DeiT-III's
    ``gamma_1/2`` become layer scale and its table has no cls row.
    """
    notes = []
    if 'dist_token' in state_dict:
        notes.append('distilled DeiT: dist_token is register token 0 and has a table row; '
                     'build the ViT with num_register_tokens=1 and pos_embed prefix_entries=2')
    return convert_timm_layout(state_dict, source, resample_meta('bicubic', antialias=False),
                               notes=notes)
