"""timm ``VisionTransformer`` checkpoints (and hybrids), and the layout its relatives share."""
from .core import (
    POS_TABLE,
    TIMM_BLOCK_RENAMES,
    RenameRules,
    StateDict,
    finish,
    prefix_rows,
    register_source,
    resample_meta,
)

# timm key layout; DeiT, MAE and DINOv2 use the same names for what they share.
TIMM_RULES = RenameRules(
    renames=[(r'^cls_token$', 'cls_token'),
             (r'^(reg_token|dist_token|register_tokens)$', 'reg_tokens'),
             (r'^pos_embed$', POS_TABLE),
             (r'^patch_embed\.(proj\.(weight|bias)|backbone\..+)$', r'patch_embed.\1'),
             *TIMM_BLOCK_RENAMES,
             (r'^norm\.(weight|bias)$', r'norm.\1')],
    drops=[r'^head\.', r'^head_dist\.', r'^fc_norm\.', r'^mask_token$', r'^decoder_',
           r'^attn_pool\.', r'^pre_logits\.'])


def convert_timm_layout(state_dict: StateDict, source: str, resample: dict,
                        pos_embed_type: str = 'learned',
                        notes: list[str] | None = None) -> tuple[StateDict, dict]:
    """Convert a state dict in timm's ViT key layout.

    The cls token and the prefix tokens after it (timm's ``reg_token``, DeiT's ``dist_token``,
    DINOv2's ``register_tokens``) keep their order; the absolute table keeps as many prefix rows
    as it has (1 for ViT/DeiT/DINOv2, 2 for distilled DeiT, 0 for DeiT-III / ``no_embed_class``).
    """
    out, dropped, unconverted = TIMM_RULES.apply(state_dict)
    use_cls = 'cls_token' in out
    num_reg = int(out['reg_tokens'].shape[1]) if 'reg_tokens' in out else 0
    entries = (prefix_rows(out[POS_TABLE].shape[1], int(use_cls) + num_reg, 'pos_embed')
               if POS_TABLE in out else 0)
    return finish(source, out, resample=resample, dropped=dropped, unconverted=unconverted,
                  use_cls_token=use_cls, num_register_tokens=num_reg, pos_prefix_entries=entries,
                  pos_embed_type=pos_embed_type, notes=notes)


@register_source('timm')
def convert_timm(state_dict: StateDict, source: str) -> tuple[StateDict, dict]:
    """timm ViT (``timm/models/vision_transformer.py``); R50 hybrids keep ``patch_embed.*``.

    timm resizes position tables with bicubic interpolation and ``antialias=True``.
    """
    return convert_timm_layout(state_dict, source, resample_meta('bicubic', antialias=True))
