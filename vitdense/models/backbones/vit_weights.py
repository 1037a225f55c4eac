"""Loading pretrained weights into a vitdense ViT; each position encoding adapts its own part.

The checkpoint's keys are already vitdense's (``tools/convert_weights.py`` renamed them, or a
vitdense model saved them); what differs between codebases is carried as metadata (reference
grid, prefix rows, resampling convention). Here the ViT fits the prefix rows of the absolute
table to its tokens, and every position-encoding module fits its own tensors through
``adapt_state_dict`` (``pos_encodings/base.py``): resampled grids, resized relative tables, and
the resampling convention, where the config's explicit choice wins over the checkpoint's.
"""
import logging
import os.path as osp
import re
from dataclasses import dataclass, field

import torch
from mmengine.logging import print_log
from torch import nn

from vitdense.models.pos_encodings.base import PosEncoding
from vitdense.utils.convert.core import POS_TABLE, StateDict
from vitdense.utils.convert.io import read_converted
from vitdense.utils.work_dir import is_work_dir_path, last_checkpoint


@dataclass
class LoadReport:
    """What :func:`load_pretrained` did, key by key."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # model keys left at their initialisation
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys with no place in model
    mismatched: list[str] = field(default_factory=list)  # same key, other shape: not loaded
    adapted: list[str] = field(default_factory=list)  # what was resampled, folded or re-set
    pe_notes: list[str] = field(default_factory=list)  # position encodings that did not carry

    def summary(self, path: str, meta: dict) -> str:
        lines = [f"Loaded {len(self.loaded)} tensors from {path} (source: {meta['source']}).",
                 *self.adapted, *self.pe_notes]
        if self.missing:
            lines.append(f'Left at initialisation (not in the checkpoint): '
                         f'{collapse(self.missing)}')
        if self.unexpected:
            lines.append(f'Not used (no such key in the backbone): {collapse(self.unexpected)}')
        if self.mismatched:
            lines.append(f'Not loaded (shape differs): {", ".join(self.mismatched)}')
        if (self.missing or self.unexpected or self.mismatched) and 'vit_kwargs' in meta:
            lines.append(f"The checkpoint's architecture: ViT(arch=..., **{meta['vit_kwargs']})")
        if meta.get('unconverted'):
            lines.append(f"Source keys without a vitdense counterpart: "
                         f"{collapse(meta['unconverted'])}")
        return '\n'.join(lines)


def collapse(keys: list[str]) -> str:
    """Group block-indexed keys: ``blocks.{0..11}.attn.pos_enc.freqs (12)``."""
    groups: dict[str, list[int]] = {}
    for key in keys:
        m = re.match(r'^(.*?)(\d+)(\..*)$', key)
        pattern = f'{m.group(1)}{{i}}{m.group(3)}' if m else key
        groups.setdefault(pattern, []).append(int(m.group(2)) if m else -1)
    parts = []
    for pattern, idx in groups.items():
        if len(idx) == 1:
            parts.append(pattern.replace('{i}', str(idx[0])))
        else:
            parts.append(pattern.replace('{i}', f'{{{min(idx)}..{max(idx)}}}') + f' ({len(idx)})')
    return ', '.join(parts)


def read_model_checkpoint(path: str, prefix: str, backbone: nn.Module) -> tuple[StateDict, dict]:
    """The ``prefix`` part of a checkpoint saved by a vitdense model (mmdet's convention for
    starting from another model's backbone, e.g. ``prefix='backbone.'``).

    The weights come from a ViT built by this library, so the resampling mode and prefix rows
    are taken to be this backbone's; the absolute table's grid is read from its length (this
    backbone's reference grid when the count matches, else a square grid).
    """
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {}
    state_dict = {k[len(prefix):]: v for k, v in state_dict.items()
                  if k.startswith(prefix) and isinstance(v, torch.Tensor)}
    if not state_dict:
        raise ValueError(f"{path} has no weights under the prefix {prefix!r}: give the prefix "
                         f"of the backbone in the model that saved it (e.g. 'backbone.'), or "
                         f"leave prefix out for a file written by tools/convert_weights.py.")
    pe = getattr(backbone, 'pos_embed', None)
    prefix_rows = getattr(pe, 'prefix_entries', 0)
    meta = dict(source=f'the {prefix!r} weights of a vitdense model', ref_grid=None,
                pos_prefix_entries=prefix_rows, use_cls_token='cls_token' in state_dict,
                num_register_tokens=(state_dict['reg_tokens'].shape[1]
                                     if 'reg_tokens' in state_dict else 0))
    if POS_TABLE in state_dict and hasattr(pe, 'ref_grid'):
        cells = state_dict[POS_TABLE].shape[1] - prefix_rows
        side = round(cells ** 0.5)
        if cells == pe.ref_grid[0] * pe.ref_grid[1]:
            meta['ref_grid'] = list(pe.ref_grid)
        elif side * side == cells:
            meta['ref_grid'] = [side, side]
        else:
            raise ValueError(f'{path}: the position table under {prefix!r} has {cells} grid '
                             f'rows, neither this backbone\'s ref_grid {tuple(pe.ref_grid)} nor '
                             f'a square; build the backbone with the img_size it was trained at.')
        if getattr(pe, 'mode', None) is not None:  # a sin-cos PE recomputes: no convention
            meta['pos_embed_resample'] = dict(vars(pe.mode))
    return state_dict, meta


def _token(state_dict: StateDict, meta: dict, index: int) -> tuple[str, int] | None:
    """The checkpoint key and row of prefix token ``index`` (cls first, then registers)."""
    if meta['use_cls_token']:
        if index == 0:
            return 'cls_token', 0
        index -= 1
    if index < meta['num_register_tokens'] and 'reg_tokens' in state_dict:
        return 'reg_tokens', index
    return None


def _fit_prefix_rows(state_dict: StateDict, meta: dict, rows: int, report: LoadReport) -> None:
    """Give the checkpoint's absolute table the backbone's ``rows`` prefix rows.

    Rows the backbone has no slot for are added into the prefix token they belong to (the
    same sum reaches the first block); missing rows are zero (the source added nothing there).
    ``meta['pos_prefix_entries']`` is updated to ``rows``.
    """
    table = state_dict[POS_TABLE]
    src_rows = meta['pos_prefix_entries']
    prefix, grid = table[:, :src_rows], table[:, src_rows:]
    for i in range(rows, src_rows):  # rows the backbone has no slot for: fold into tokens
        token = _token(state_dict, meta, i)
        if token is not None:
            key, row = token
            state_dict[key] = state_dict[key].clone()
            state_dict[key][:, row] += prefix[0, i].to(state_dict[key].dtype)
            report.adapted.append(f'pos_embed row {i} was added into {key}[{row}] (the '
                                  f'backbone has prefix_entries={rows})')
    extra = prefix.new_zeros(1, max(rows - src_rows, 0), table.shape[-1])
    if rows > src_rows:
        report.adapted.append(f'pos_embed rows {src_rows}..{rows - 1} set to zero '
                              f'(the source has {src_rows} prefix rows)')
    state_dict[POS_TABLE] = torch.cat([prefix[:, :rows], extra, grid], dim=1)
    meta['pos_prefix_entries'] = rows


def _pe_modules(backbone: nn.Module) -> list[tuple[str, PosEncoding]]:
    """Every position-encoding module with its state-dict prefix ('pos_embed.', ...)."""
    return [(f'{name}.', module) for name, module in backbone.named_modules()
            if isinstance(module, PosEncoding)]


def pe_keys(keys) -> set[str]:
    """The keys of position encodings: the token PE's, the attention PEs', the PEGs'."""
    return {k for k in keys if k.startswith('pos_embed.') or '.pos_enc.' in k
            or k.startswith('cond_pos.')}


def _pe_notes(state_dict: StateDict, model_sd: StateDict, backbone: nn.Module,
              meta: dict) -> list[str]:
    """Explain position encodings that exist on only one side."""
    src, dst = pe_keys(state_dict), pe_keys(model_sd)
    notes = []
    names = sorted({type(m).__name__ for n, m in backbone.named_modules()
                    if n == 'pos_embed' or n.endswith('.pos_enc') or n.startswith('cond_pos.')})
    if src - dst:
        notes.append(f"The checkpoint's position encoding ({collapse(sorted(src - dst))}, "
                     f"{meta['source']}) was not loaded: the backbone's PE is "
                     f"{', '.join(names) or 'none'}.")
    if dst - src:
        notes.append(f"The backbone's position encoding {collapse(sorted(dst - src))} "
                     f"({', '.join(names)}) is not in the checkpoint and stays at its "
                     f'initialisation.')
    return notes


def load_pretrained(backbone: nn.Module, path: str, logger: str | logging.Logger = 'current',
                    prefix: str | None = None, load_pos_enc: bool = True) -> LoadReport:
    """Load a converted checkpoint into a vitdense ViT, non-strictly, and log what happened.

    The absolute table's prefix rows are fitted to the backbone's (folded into tokens or
    zero-filled); then each position-encoding module adapts its own tensors with the
    checkpoint's metadata (``PosEncoding.adapt_state_dict``): the absolute table's grid is
    resampled once with the source's convention, and that convention becomes the PE's unless
    the config chose one (logged either way); decomposed relative tables of another length are
    resized linearly, Swin bias tables of another window bicubically. Keys of a position
    encoding the backbone does not have (an absolute table into a RoPE ViT, say) are skipped;
    everything else loads.

    Args:
        backbone: a ``ViT`` (or any module with the same key layout).
        path: a file written by ``tools/convert_weights.py``, or with ``prefix`` a checkpoint
            saved by a vitdense model (see :func:`read_model_checkpoint`), or the work dir of
            that model's training: its last checkpoint (mmengine's ``last_checkpoint`` file).
        logger: where to report, as for ``mmengine.logging.print_log``.
        prefix: the backbone's key prefix in a vitdense model checkpoint, e.g. 'backbone.'.
        load_pos_enc: False leaves every position encoding of the backbone at its
            initialisation and loads the rest (the resolution study starts each encoding
            family from the same pretrained stem and blocks, each with a fresh encoding).

    Returns:
        The :class:`LoadReport`.
    """
    if is_work_dir_path(path):
        path = last_checkpoint(path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f"Pretrained checkpoint '{path}' (the backbone's init_cfg.checkpoint) does not exist. "
            f'Convert downloaded weights with tools/convert_weights.py, or train the model it '
            f"comes from first (with prefix='backbone.', a vitdense model's checkpoint); or set "
            f'model.backbone.init_cfg=None to start from scratch.')
    if prefix:
        state_dict, meta = read_model_checkpoint(path, prefix, backbone)
    else:
        state_dict, meta = read_converted(path)
    state_dict, meta = dict(state_dict), dict(meta)
    model_sd = backbone.state_dict()
    report = LoadReport()
    if not load_pos_enc:
        dropped = pe_keys(state_dict)
        state_dict = {k: v for k, v in state_dict.items() if k not in dropped}
        if dropped:
            report.adapted.append(f'Position encodings not loaded (load_pos_enc=False): '
                                  f'{collapse(sorted(dropped))}')
    pe = getattr(backbone, 'pos_embed', None)
    if POS_TABLE in state_dict and isinstance(pe, PosEncoding) and POS_TABLE in model_sd:
        _fit_prefix_rows(state_dict, meta, pe.prefix_entries, report)
    for prefix_key, module in _pe_modules(backbone):
        report.adapted.extend(module.adapt_state_dict(state_dict, prefix_key, meta))
    report.pe_notes = _pe_notes(state_dict, model_sd, backbone, meta)
    to_load = {}
    for key, value in state_dict.items():
        if key in model_sd and model_sd[key].shape != value.shape:
            report.mismatched.append(f'{key} (checkpoint {tuple(value.shape)}, backbone '
                                     f'{tuple(model_sd[key].shape)})')
        else:
            to_load[key] = value
    result = backbone.load_state_dict(to_load, strict=False)
    report.missing = sorted(result.missing_keys)
    report.unexpected = sorted(result.unexpected_keys)
    report.loaded = sorted(set(to_load) - set(result.unexpected_keys))
    level = (logging.WARNING if report.missing or report.unexpected or report.mismatched
             else logging.INFO)
    print_log(report.summary(path, meta), logger=logger, level=level)
    return report
