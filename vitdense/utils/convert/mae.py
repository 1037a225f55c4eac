"""MAE checkpoints, pre-trained or fine-tuned (``facebookresearch/mae``)."""
from .core import StateDict, register_source, resample_meta
from .timm import convert_timm_layout


@register_source('mae')
def convert_mae(state_dict: StateDict, source: str) -> tuple[StateDict, dict]:
    """He et al. 2022, "Masked Autoencoders Are Scalable Vision Learners", arXiv 2111.06377.

    The decoder and mask token of a pre-trained checkpoint are dropped, as are the head and
    ``fc_norm`` of a fine-tuned one. A pre-trained table is MAE's fixed 2-D sin-cos one
    ([sin x | cos x | sin y | cos y], zero cls row); it is kept as a table and resized the way
    MAE fine-tuning does (bicubic, no antialias).
    """
    pretrained = any(k.startswith('decoder_') for k in state_dict)
    notes = []
    if pretrained:
        notes.append("pos_embed is MAE's fixed sin-cos table: loaded as LearnedAbsolutePE it is "
                     'interpolated like MAE fine-tuning; freeze it to keep it fixed, or use '
                     'SinCos2dPE to recompute sin-cos at every size (then it is not loaded)')
    return convert_timm_layout(state_dict, source, resample_meta('bicubic', antialias=False),
                               pos_embed_type='sincos_fixed' if pretrained else 'learned',
                               notes=notes)
