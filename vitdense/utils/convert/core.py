"""The common core of checkpoint conversion: the source registry, key renaming and metadata.

A converter turns a source state dict into vitdense ``ViT`` keys and describes the weights in a
metadata dict (plain Python values, so that ``torch.load(weights_only=True)`` reads it):

- ``source``: the source format name;
- ``pos_embed_resample``: ``{'interpolation', 'antialias', 'offset'}``, how the source codebase
  resizes its absolute table (REFERENCE.md: these conventions give different numbers);
- ``pos_embed_type``: 'learned', 'sincos_fixed' (MAE's frozen table) or None;
- ``ref_grid``: [H, W] of the absolute table, or None;
- ``num_prefix_tokens`` / ``pos_prefix_entries``: prefix tokens of the source (cls, DeiT's
  distillation token, registers) and how many of them have a row in the table;
- ``use_cls_token``, ``num_register_tokens``, ``embed_dim``, ``depth``, ``patch_size``,
  ``layer_scale``, ``rel_pos``, ``final_norm``;
- ``dropped``: source keys left out on purpose (heads, decoders, mask tokens), ``unconverted``:
  source keys of features the vitdense ViT does not have, ``notes``: what the user should know;
- ``vit_kwargs``: ``ViT`` arguments that reproduce the source architecture (besides ``arch``).
"""
import math
import re
from dataclasses import dataclass, field
from typing import Callable

import torch

StateDict = dict[str, torch.Tensor]
Converter = Callable[[StateDict, str], tuple[StateDict, dict]]

# Our ViT's names (vitdense/models/backbones/vit.py).
POS_TABLE = 'pos_embed.table'
FINAL_NORM = 'out_norms.{last}.{param}'

SOURCES: dict[str, Converter] = {}


def register_source(*names: str) -> Callable[[Converter], Converter]:
    """Register a converter under one or more source names."""
    def wrap(fn: Converter) -> Converter:
        for name in names:
            if name in SOURCES:
                raise KeyError(f'checkpoint source {name!r} is registered twice')
            SOURCES[name] = fn
        return fn
    return wrap


def convert_checkpoint(state_dict: StateDict, source: str) -> tuple[StateDict, dict]:
    """Convert ``state_dict`` from the ``source`` format to vitdense ViT keys.

    Args:
        state_dict: the source weights (a plain state dict; wrappers such as ``{'model': ...}``
            are removed by :func:`unwrap_state_dict`).
        source: one of ``SOURCES`` (``tools/convert_weights.py --help`` lists them).

    Returns:
        The converted state dict and its metadata (see this module's docstring).
    """
    if source not in SOURCES:
        raise KeyError(f"Unknown checkpoint source {source!r}; known: {', '.join(sorted(SOURCES))}")
    state_dict = {k: v for k, v in unwrap_state_dict(state_dict).items()
                  if isinstance(v, torch.Tensor)}
    return SOURCES[source](state_dict, source)


def unwrap_state_dict(ckpt: dict) -> StateDict:
    """Strip checkpoint wrappers: ``{'model': sd}``, ``{'state_dict': sd}``, ``module.``."""
    for key in ('model', 'state_dict', 'module'):
        if isinstance(ckpt.get(key), dict):
            return unwrap_state_dict(ckpt[key])
    if ckpt and all(k.startswith('module.') for k in ckpt):
        return {k[len('module.'):]: v for k, v in ckpt.items()}
    return ckpt


@dataclass
class RenameRules:
    """Regex renames applied in order (first match wins), and regexes of keys to drop.

    A key that matches neither is reported as ``unconverted``.
    """

    renames: list[tuple[str, str]]
    drops: list[str] = field(default_factory=list)

    def apply(self, state_dict: StateDict) -> tuple[StateDict, list[str], list[str]]:
        """Returns the renamed dict, the dropped keys and the unconverted keys."""
        out, dropped, unconverted = {}, [], []
        for key, value in state_dict.items():
            if any(re.search(d, key) for d in self.drops):
                dropped.append(key)
                continue
            for pattern, repl in self.renames:
                if re.search(pattern, key):
                    out[re.sub(pattern, repl, key)] = value
                    break
            else:
                unconverted.append(key)
        return out, dropped, unconverted


# Block keys shared by timm, DeiT, MAE, DINOv2 and detectron2 (the last without ls*); ours are
# the same names.
TIMM_BLOCK_RENAMES = [
    (r'^blocks\.(\d+)\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)$',
     r'blocks.\1.\2.\3'),
    (r'^blocks\.(\d+)\.(ls1|ls2)\.gamma$', r'blocks.\1.\2.gamma'),
    (r'^blocks\.(\d+)\.gamma_(1|2)$', r'blocks.\1.ls\2.gamma'),  # DeiT-III, BEiT names
]


def fuse_qkv(state_dict: StateDict) -> StateDict:
    """Fuse ``*.attn.{q,k,v}.{weight,bias}`` into ``*.attn.qkv.*`` (rows in q, k, v order)."""
    out = {}
    for key, value in state_dict.items():
        m = re.match(r'^(.*\.attn)\.(q|k|v)\.(weight|bias)$', key)
        if m is None:
            out[key] = value
        elif m.group(2) == 'q':
            base, param = m.group(1), m.group(3)
            parts = [state_dict.get(f'{base}.{n}.{param}') for n in 'qkv']
            if any(p is None for p in parts):
                raise KeyError(f'{base}: found the query {param} but not all of q, k, v')
            out[f'{base}.qkv.{param}'] = torch.cat(parts, dim=0)  # (3 * C, ...)
    return out


def depth_of(state_dict: StateDict) -> int:
    """Number of blocks, from converted ``blocks.{i}.*`` keys."""
    indices = {int(m.group(1)) for k in state_dict if (m := re.match(r'^blocks\.(\d+)\.', k))}
    if not indices:
        raise KeyError('no transformer blocks found after conversion: is --from the right '
                       'format for this file?')
    if indices != set(range(len(indices))):
        raise KeyError(f'block indices are not contiguous: {sorted(indices)}')
    return len(indices)


def square_grid(num_patches: int, key: str) -> list[int]:
    """The square grid of a table with ``num_patches`` rows, or an error naming ``key``."""
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise ValueError(f'{key}: {num_patches} grid rows is not a square grid; non-square '
                         f'source tables are not supported, resize it to a square grid first')
    return [side, side]


def prefix_rows(table_len: int, max_prefix: int, key: str) -> int:
    """Rows before the square patch grid in a table of ``table_len`` rows.

    At most ``max_prefix`` (the checkpoint's prefix tokens: 0 for DeiT-III / no_embed_class
    tables, 1 for a cls row, 2 for distilled DeiT).
    """
    fits = [p for p in range(max_prefix + 1) if math.isqrt(table_len - p) ** 2 == table_len - p]
    if len(fits) != 1:
        found = 'is ambiguous' if fits else 'is not a square grid'
        raise ValueError(f'{key}: {table_len} rows with up to {max_prefix} prefix rows {found}; '
                         f'non-square source tables are not supported, resize the table to a '
                         f'square grid first')
    return fits[0]


def resample_meta(interpolation: str = 'bicubic', antialias: bool = False,
                  offset: float | None = None) -> dict:
    return dict(interpolation=interpolation, antialias=antialias, offset=offset)


def finish(source: str, state_dict: StateDict, *, resample: dict, dropped: list[str],
           unconverted: list[str], use_cls_token: bool, num_register_tokens: int = 0,
           pos_prefix_entries: int = 0, pos_embed_type: str | None = 'learned',
           notes: list[str] | None = None) -> tuple[StateDict, dict]:
    """Check a converted dict, move the final norm to the last output norm, build the metadata.

    Converters name the source's final norm ``norm.{weight,bias}``; it becomes the ViT's output
    norm of the last block (``out_norms.{depth - 1}``), the one a ViT with default
    ``out_indices`` and ``out_norm=True`` applies to its last map.
    """
    notes = list(notes or [])
    depth = depth_of(state_dict)
    for param in ('weight', 'bias'):
        if f'norm.{param}' in state_dict:
            state_dict[FINAL_NORM.format(last=depth - 1, param=param)] = state_dict.pop(
                f'norm.{param}')
    table = state_dict.get(POS_TABLE)
    ref_grid = None
    if table is not None:
        ref_grid = square_grid(table.shape[1] - pos_prefix_entries, POS_TABLE)
    patch = state_dict.get('patch_embed.proj.weight')
    patch_size = int(patch.shape[-1]) if patch is not None and patch.ndim == 4 else None
    embed_dim = int(state_dict['blocks.0.norm1.weight'].shape[0])
    layer_scale = 'blocks.0.ls1.gamma' in state_dict
    rel_pos = any(k.endswith('.rel_pos_h') for k in state_dict)
    final_norm = FINAL_NORM.format(last=depth - 1, param='weight') in state_dict
    if unconverted:
        notes.append(f'{len(unconverted)} source keys have no counterpart in the vitdense ViT and '
                     f'were not converted (see unconverted)')
    vit_kwargs: dict = dict(use_cls_token=use_cls_token, num_register_tokens=num_register_tokens,
                            layer_scale=1.0 if layer_scale else None, out_norm=final_norm)
    if patch_size is not None:
        vit_kwargs['patch_size'] = patch_size
    if table is not None:
        vit_kwargs['pos_embed'] = dict(type='LearnedAbsolutePE', prefix_entries=pos_prefix_entries,
                                       ref_grid=tuple(ref_grid), **resample)
    if rel_pos:
        vit_kwargs['attn_pos_enc'] = dict(type='DecomposedRelPosPE')
    meta = dict(source=source, pos_embed_resample=dict(resample),
                pos_embed_type=pos_embed_type if table is not None else None, ref_grid=ref_grid,
                num_prefix_tokens=int(use_cls_token) + num_register_tokens,
                pos_prefix_entries=pos_prefix_entries, use_cls_token=use_cls_token,
                num_register_tokens=num_register_tokens, embed_dim=embed_dim, depth=depth,
                patch_size=patch_size, layer_scale=layer_scale, rel_pos=rel_pos,
                final_norm=final_norm, dropped=sorted(dropped), unconverted=sorted(unconverted),
                notes=notes, vit_kwargs=vit_kwargs)
    return state_dict, meta
