"""OpenMMLab ViT checkpoints: mmpretrain ``VisionTransformer`` and mmseg ``VisionTransformer``."""
from .core import (
    POS_TABLE,
    RenameRules,
    StateDict,
    finish,
    prefix_rows,
    register_source,
    resample_meta,
)

_B = r'^layers\.(\d+)\.'
MM_RULES = RenameRules(renames=[
    (r'^patch_embed\.projection\.(weight|bias)$', r'patch_embed.proj.\1'),
    (r'^cls_token$', 'cls_token'),
    (r'^pos_embed$', POS_TABLE),
    (_B + r'ln1\.', r'blocks.\1.norm1.'),
    (_B + r'ln2\.', r'blocks.\1.norm2.'),
    (_B + r'attn\.qkv\.', r'blocks.\1.attn.qkv.'),  # mmpretrain
    (_B + r'attn\.proj\.', r'blocks.\1.attn.proj.'),
    (_B + r'attn\.attn\.in_proj_(weight|bias)$', r'blocks.\1.attn.qkv.\2'),  # mmseg
    (_B + r'attn\.attn\.out_proj\.', r'blocks.\1.attn.proj.'),
    (_B + r'attn\.gamma1\.weight$', r'blocks.\1.ls1.gamma'),
    (_B + r'ffn\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
    (_B + r'ffn\.layers\.1\.', r'blocks.\1.mlp.fc2.'),
    (_B + r'ffn\.gamma2\.weight$', r'blocks.\1.ls2.gamma'),
    (r'^ln1\.(weight|bias)$', r'norm.\1'),
], drops=[r'^ln2\.', r'^head\.', r'^neck\.', r'^decode_head\.', r'^auxiliary_head\.',
          r'^data_preprocessor\.'])


@register_source('mmpretrain', 'mmseg')
def convert_mmpretrain(state_dict: StateDict, source: str) -> tuple[StateDict, dict]:
    """mmpretrain/mmseg ViT; a full model's ``backbone.`` prefix is stripped, heads dropped.

    Both resize the table with bicubic interpolation and no antialias. mmpretrain's
    ``pre_norm`` (CLIP-style ViTs) has no vitdense counterpart.
    """
    if any(k.startswith('backbone.') for k in state_dict):
        state_dict = {(k[len('backbone.'):] if k.startswith('backbone.') else k): v
                      for k, v in state_dict.items()}
    out, dropped, unconverted = MM_RULES.apply(state_dict)
    entries = prefix_rows(out[POS_TABLE].shape[1], 1, 'pos_embed') if POS_TABLE in out else 0
    if entries and 'cls_token' not in out:  # with_cls_token=False keeps an unused cls row
        out[POS_TABLE] = out[POS_TABLE][:, entries:]
        dropped.append('pos_embed[:, 0] (cls row of a model without cls token)')
        entries = 0
    return finish(source, out, resample=resample_meta('bicubic', antialias=False),
                  dropped=dropped, unconverted=unconverted, use_cls_token='cls_token' in out,
                  pos_prefix_entries=entries)
