"""detectron2 ViTDet checkpoints (``projects/ViTDet``; ``{'model': sd}``)."""
from .core import POS_TABLE, RenameRules, StateDict, finish, register_source, resample_meta
from .hf import drop_cls_row

_B = r'^blocks\.(\d+)\.'
DETECTRON2_RULES = RenameRules(renames=[
    (r'^patch_embed\.proj\.(weight|bias)$', r'patch_embed.proj.\1'),
    (r'^pos_embed$', POS_TABLE),
    (_B + r'(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)$',
     r'blocks.\1.\2.\3'),
    (_B + r'attn\.(rel_pos_h|rel_pos_w)$', r'blocks.\1.attn.pos_enc.\2'),
])


@register_source('detectron2')
def convert_detectron2(state_dict: StateDict, source: str) -> tuple[StateDict, dict]:
    """Li et al. 2022, "Exploring Plain Vision Transformer Backbones for Object Detection",
    arXiv 2203.16527.

    A full detector's backbone lives under ``backbone.net.``; everything else (the simple
    feature pyramid ``backbone.simfp_*``, RPN, ROI heads) is dropped. The absolute table is
    resized bicubically without antialias, its pre-training cls row dropped.
    """
    prefix = 'backbone.net.'
    dropped = []
    if any(k.startswith(prefix) for k in state_dict):
        dropped = [k for k in state_dict if not k.startswith(prefix)]
        state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    out, dropped_here, unconverted = DETECTRON2_RULES.apply(state_dict)
    dropped += dropped_here
    drop_cls_row(out, dropped, 'pos_embed')
    return finish(source, out, resample=resample_meta('bicubic', antialias=False),
                  dropped=dropped, unconverted=unconverted, use_cls_token=False)
