"""HuggingFace transformers ViT, ViTMAE, Dinov2, Dinov2WithRegisters and VitDet checkpoints.

Both key layouts are read: the legacy one that ``save_pretrained`` writes to disk
(``encoder.layer.{i}.attention.attention.query``, ...) and the transformers 5.x in-memory one
(``layers.{i}.attention.q_proj``, ...). Task-model prefixes (``vit.``, ``dinov2.``) are
stripped; pooler, classifier and MAE decoder weights are dropped.
"""
import re

from .core import (
    POS_TABLE,
    RenameRules,
    StateDict,
    finish,
    fuse_qkv,
    prefix_rows,
    register_source,
    resample_meta,
)

_PREFIX = re.compile(r'^(vit|vit_mae|dinov2|dinov2_with_registers|vitdet|model)\.')
_BLOCK = re.compile(r'^(encoder\.layer|encoder\.layers|layers)\.(\d+)\.')
_B = r'^blocks\.(\d+)\.'

_EMBED_RENAMES = [
    (r'^embeddings\.cls_token$', 'cls_token'),
    (r'^embeddings\.register_tokens$', 'reg_tokens'),
    (r'^embeddings\.position_embeddings$', POS_TABLE),
    (r'^embeddings\.(patch_embeddings\.projection|projection)\.(weight|bias)$',
     r'patch_embed.proj.\2'),
    (r'^layernorm\.(weight|bias)$', r'norm.\1'),
]
_DROPS = [r'^embeddings\.mask_token$', r'^pooler\.', r'^classifier\.', r'^decoder\.',
          r'^head\.', r'^fc_norm\.']

VIT_RULES = RenameRules(renames=[
    *_EMBED_RENAMES,
    (_B + r'(layernorm_before|norm1)\.', r'blocks.\1.norm1.'),
    (_B + r'(layernorm_after|norm2)\.', r'blocks.\1.norm2.'),
    (_B + r'attention\.(attention\.query|q_proj)\.', r'blocks.\1.attn.q.'),
    (_B + r'attention\.(attention\.key|k_proj)\.', r'blocks.\1.attn.k.'),
    (_B + r'attention\.(attention\.value|v_proj)\.', r'blocks.\1.attn.v.'),
    (_B + r'attention\.(output\.dense|o_proj)\.', r'blocks.\1.attn.proj.'),
    (_B + r'(intermediate\.dense|mlp\.fc1)\.', r'blocks.\1.mlp.fc1.'),
    (_B + r'(output\.dense|mlp\.fc2)\.', r'blocks.\1.mlp.fc2.'),
    (_B + r'layer_scale(1|2)\.lambda1$', r'blocks.\1.ls\2.gamma'),
], drops=_DROPS)

VITDET_RULES = RenameRules(renames=[
    *_EMBED_RENAMES,
    (_B + r'(norm1|norm2|mlp\.fc1|mlp\.fc2)\.', r'blocks.\1.\2.'),
    (_B + r'attention\.(qkv|proj)\.', r'blocks.\1.attn.\2.'),
    (_B + r'attention\.(rel_pos_h|rel_pos_w)$', r'blocks.\1.attn.pos_enc.\2'),
], drops=_DROPS)


def _normalise(state_dict: StateDict) -> StateDict:
    """Strip a task-model prefix and give every block the ``blocks.{i}.`` prefix."""
    out = {}
    for key, value in state_dict.items():
        key = _BLOCK.sub(r'blocks.\2.', _PREFIX.sub('', key))
        out[key] = value
    return out


@register_source('hf_vit', 'hf_vit_mae', 'hf_dinov2', 'hf_dinov2_with_registers')
def convert_hf_vit(state_dict: StateDict, source: str) -> tuple[StateDict, dict]:
    """HF ``ViTModel``, ``ViTMAEModel``, ``Dinov2Model`` and ``Dinov2WithRegistersModel``.

    All four resize the table with bicubic interpolation (size-based, ``align_corners=False``);
    only Dinov2WithRegisters antialiases. Separate q/k/v projections are fused into ``qkv``.
    HF ViT and ViTMAE default to ``layer_norm_eps=1e-12``; vitdense uses 1e-6, which changes
    outputs by about 1e-6 relative.
    """
    out, dropped, unconverted = VIT_RULES.apply(_normalise(state_dict))
    out = fuse_qkv(out)
    with_registers = source == 'hf_dinov2_with_registers' or 'reg_tokens' in out
    if with_registers and 'reg_tokens' not in out:
        raise KeyError(f'--from {source}: no embeddings.register_tokens in the checkpoint')
    num_reg = int(out['reg_tokens'].shape[1]) if 'reg_tokens' in out else 0
    entries = (prefix_rows(out[POS_TABLE].shape[1], 1 + num_reg, 'embeddings.position_embeddings')
               if POS_TABLE in out else 0)
    notes = []
    if source == 'hf_vit_mae':
        notes.append("ViTMAE's position table is MAE's fixed sin-cos one; it is loaded as a "
                     'table and interpolated as HF ViTMAE does')
    return finish(source, out, resample=resample_meta('bicubic', antialias=with_registers),
                  dropped=dropped, unconverted=unconverted, use_cls_token='cls_token' in out,
                  num_register_tokens=num_reg,
                  pos_prefix_entries=entries,
                  pos_embed_type='sincos_fixed' if source == 'hf_vit_mae' else 'learned',
                  notes=notes)


def drop_cls_row(out: StateDict, dropped: list[str], key: str) -> None:
    """ViTDet's table has a row for the pre-training cls token, which ViTDet never uses."""
    table = out.get(POS_TABLE)
    if table is not None and prefix_rows(table.shape[1], 1, key) == 1:
        out[POS_TABLE] = table[:, 1:]
        dropped.append(f'{key}[:, 0] (cls row of the pre-training table)')


@register_source('hf_vitdet')
def convert_hf_vitdet(state_dict: StateDict, source: str) -> tuple[StateDict, dict]:
    """HF ``VitDetModel`` / ``VitDetBackbone`` (same names on disk and in memory).

    Like detectron2: bicubic without antialias for the absolute table (its cls row dropped),
    decomposed relative tables under ``blocks.{i}.attn.pos_enc.rel_pos_{h,w}``. Residual conv
    blocks (``residual.*``) have no vitdense counterpart yet.
    """
    out, dropped, unconverted = VITDET_RULES.apply(_normalise(state_dict))
    drop_cls_row(out, dropped, 'embeddings.position_embeddings')
    return finish(source, out, resample=resample_meta('bicubic', antialias=False),
                  dropped=dropped, unconverted=unconverted, use_cls_token=False)
