"""The plain Vision Transformer backbone with three position-encoding slots."""
import math

import torch
from mmengine.model import BaseModule
from torch import nn
from torch.utils.checkpoint import checkpoint

from vitdense.models.layers import Block, PatchEmbed, ResBottleneckBlock
from vitdense.models.utils.tokens import memory_format_of, tokens_to_map
from vitdense.registry import MODELS, POS_ENCODINGS
from vitdense.structures import ShapeSpec, stride_key

from .stems import split_stem_output, stem_output_shape
from .variants import get_vit_size
from .vit_weights import load_pretrained


@MODELS.register_module()
class ViT(BaseModule):
    """Plain ViT (Dosovitskiy et al. 2020, arXiv 2010.11929) for dense prediction.

    Returns the token grid of each block in ``out_indices`` as an NCHW map keyed ``b{i}`` (i the
    0-based block index); the last of them is also keyed ``p{log2(patch stride)}`` (``p4`` for
    16-pixel patches), the same tensor, which is what necks and dense heads read. With
    ``out_cls_token``, each block's cls token is returned too, as ``b{i}_cls`` (B, dim), normed
    like its map. A stem's extra maps (``p2``, ``p3``) pass through. Any input size works: the
    patch embedding pads to the patch multiple, windowed blocks pad to the window multiple, and
    every PE adapts to the actual grid.

    Args:
        arch: a size from ``VIT_SIZES`` ('test', 'tiny', 'small', 'base', 'large', 'huge'), or
            a dict with ``dim``, ``depth``, ``num_heads`` (and optionally ``mlp_ratio``).
        img_size: (H, W) of the reference input; the PEs' reference grid is img_size / patch.
        patch_size: patch side and output stride of the default patch stem.
        in_channels: input image channels.
        stem: config of another stem (e.g. ``dict(type='ConvStem', stride=16)``); it gets
            ``in_channels`` and ``dim`` and must expose ``stride``. None: a patch embedding.
        pos_embed: slot 1 config (e.g. ``dict(type='LearnedAbsolutePE')``) or None.
        cond_pos_enc: slot 2 config or None; applied after each block in ``cond_pos_indices``.
        cond_pos_indices: blocks after which the conditional PE runs (one module per index).
        attn_pos_enc: slot 3 config or None; one module is built per block.
        use_cls_token: prepend a learned cls token.
        num_register_tokens: learned register tokens after the cls token (Darcet et al. 2023).
        window_size: window side for windowed blocks (0: all blocks global).
        global_indices: blocks with global attention when ``window_size > 0``.
        residual_indices: blocks followed by a residual bottleneck conv block (ViTDet).
        out_indices: blocks whose outputs are returned (negative indices count from the end).
        out_cls_token: also return the cls token of each returned block (needs
            ``use_cls_token``), e.g. for DPT's readout.
        drop_path_rate: stochastic depth, increasing linearly to this rate.
        layer_scale: LayerScale init value, or None.
        qkv_bias: bias in the qkv projection.
        out_norm: apply a LayerNorm to every returned map.
        with_checkpoint: activation checkpointing per block (``use_reentrant=False``).
        frozen_stages: what stays fixed in training, as mmpretrain's ViT and mmdet's ResNet
            count: -1 nothing; 0 the stem, the prefix tokens and the token PE (slot 1); k >= 1
            those and blocks 0..k-1 (with their attention PEs, residual convs and conditional
            PEs); ``depth`` everything, the output norms included, which ``'all'`` names
            whatever the depth (a config that freezes the whole backbone keeps doing so when
            its ``arch`` is changed). Frozen parameters get no
            gradient (backward stops where the first trainable part begins, which is what makes
            a frozen backbone cheap) and frozen BatchNorm keeps its statistics (eval mode).
        init_cfg: mmengine init config (e.g. ``dict(type='Pretrained', checkpoint=...)``).
    """

    def __init__(self, arch: str | dict = 'base', img_size: tuple[int, int] = (224, 224),
                 patch_size: int = 16, in_channels: int = 3, stem: dict | None = None,
                 pos_embed: dict | None = None,
                 cond_pos_enc: dict | None = None, cond_pos_indices: tuple[int, ...] = (0,),
                 attn_pos_enc: dict | None = None, use_cls_token: bool = False,
                 num_register_tokens: int = 0, window_size: int = 0,
                 global_indices: tuple[int, ...] = (), residual_indices: tuple[int, ...] = (),
                 out_indices: tuple[int, ...] = (-1,), out_cls_token: bool = False,
                 drop_path_rate: float = 0.0, layer_scale: float | None = None,
                 qkv_bias: bool = True, out_norm: bool = True, with_checkpoint: bool = False,
                 frozen_stages: int | str = -1, init_cfg: dict | None = None):
        super().__init__(init_cfg=init_cfg)
        if out_cls_token and not use_cls_token:
            raise ValueError('ViT: out_cls_token=True returns the cls token, but '
                             'use_cls_token=False builds none; set use_cls_token=True or '
                             'out_cls_token=False')
        size = get_vit_size(arch)
        dim, depth = size.dim, size.depth
        if stem is None:
            self.patch_embed = PatchEmbed(patch_size, in_channels, dim)
        else:
            self.patch_embed = MODELS.build(stem, default_args=dict(in_channels=in_channels,
                                                                    dim=dim))
        patch_size = self.patch_embed.stride
        self.embed_dim, self.depth, self.patch_size = dim, depth, patch_size
        self.with_checkpoint = with_checkpoint
        ref_grid = (math.ceil(img_size[0] / patch_size), math.ceil(img_size[1] / patch_size))
        self.ref_grid = ref_grid

        self.num_prefix_tokens = int(use_cls_token) + num_register_tokens
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if use_cls_token else None
        self.reg_tokens = (nn.Parameter(torch.zeros(1, num_register_tokens, dim))
                           if num_register_tokens else None)
        self.pos_embed = None
        if pos_embed is not None:
            self.pos_embed = self._build_token_pe(pos_embed, dim, window_size)

        self.cond_pos_indices = tuple(self._absolute(i, 'cond_pos_indices') for i in
                                      cond_pos_indices) if cond_pos_enc else ()
        self.cond_pos = nn.ModuleDict({
            str(i): POS_ENCODINGS.build(cond_pos_enc, default_args=dict(dim=dim))
            for i in self.cond_pos_indices})

        global_set = {self._absolute(i, 'global_indices') for i in global_indices}
        self.window_indices = tuple(i for i in range(depth)
                                    if window_size and i not in global_set)
        head_dim = dim // size.num_heads
        # linearly increasing stochastic depth, in Python: a model built on the meta device
        # (deferred initialisation of a large ViT) has no tensor data to read back
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        blocks = []
        for i in range(depth):
            win = window_size if i in self.window_indices else 0
            attn_pe = None
            if attn_pos_enc is not None:
                attn_pe = POS_ENCODINGS.build(attn_pos_enc, default_args=dict(
                    num_heads=size.num_heads, head_dim=head_dim,
                    ref_grid=(win, win) if win else ref_grid))
            blocks.append(Block(dim, size.num_heads, size.mlp_ratio, qkv_bias, dpr[i],
                                layer_scale, win, attn_pe))
        self.blocks = nn.ModuleList(blocks)
        self.res_convs = nn.ModuleDict({
            str(self._absolute(i, 'residual_indices')): ResBottleneckBlock(dim)
            for i in residual_indices})

        self.out_indices = tuple(sorted({self._absolute(i, 'out_indices') for i in out_indices}))
        self.out_cls_token = out_cls_token
        self.level_name = stride_key(patch_size)  # the last returned block's second key
        clash = sorted(set(stem_output_shape(self.patch_embed)) & set(self._map_shapes()))
        if clash:
            raise ValueError(f'ViT: the stem returns extra maps {clash} under the key of the '
                             'ViT output at that stride; give the stem another stride or no '
                             'extra outputs')
        self.out_norms = nn.ModuleDict({
            str(i): nn.LayerNorm(dim, eps=1e-6) if out_norm else nn.Identity()
            for i in self.out_indices})
        self._init_tokens()
        if frozen_stages == 'all':
            frozen_stages = depth
        if isinstance(frozen_stages, str) or not -1 <= frozen_stages <= depth:
            raise ValueError(f'ViT: frozen_stages={frozen_stages} is outside -1 (nothing frozen) '
                             f'.. {depth} (everything, for this depth), or \'all\'')
        self.frozen_stages = frozen_stages
        self._freeze()

    def _frozen_modules(self) -> list[nn.Module]:
        """The modules that ``frozen_stages`` fixes (see the class docstring)."""
        if self.frozen_stages < 0:
            return []
        parts = [self.patch_embed] + ([self.pos_embed] if self.pos_embed is not None else [])
        for i in range(self.frozen_stages):
            parts.append(self.blocks[i])
            parts += [group[str(i)] for group in (self.res_convs, self.cond_pos)
                      if str(i) in group]
        if self.frozen_stages == self.depth:
            parts.append(self.out_norms)
        return parts

    def _freeze(self) -> None:
        if self.frozen_stages >= 0:
            for token in (self.cls_token, self.reg_tokens):
                if token is not None:
                    token.requires_grad_(False)
        for module in self._frozen_modules():
            module.eval()
            module.requires_grad_(False)

    def train(self, mode: bool = True) -> 'ViT':
        """As nn.Module's, but the frozen stages stay in eval mode (BatchNorm, dropout)."""
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
        return self

    def _build_token_pe(self, cfg: dict, dim: int, window_size: int) -> nn.Module:
        """Slot 1, with ``window_size`` given to a PE that takes it (and checked against it)."""
        args = dict(dim=dim, ref_grid=self.ref_grid, num_prefix_tokens=self.num_prefix_tokens)
        cls = POS_ENCODINGS.get(cfg['type']) if isinstance(cfg.get('type'), str) else cfg['type']
        takes_window = cls is not None and hasattr(cls, 'accepts') and cls.accepts('window_size')
        if takes_window and window_size:
            args['window_size'] = window_size
        pe = POS_ENCODINGS.build(cfg, default_args=args)
        own = getattr(pe, 'window_size', None)
        if takes_window and window_size and own != window_size:
            raise ValueError(f"ViT: pos_embed {type(pe).__name__} has window_size={own} but "
                             f"the ViT's windowed blocks use window_size={window_size}; leave "
                             f'window_size out of pos_embed (the ViT passes its own)')
        return pe

    def _absolute(self, index: int, name: str) -> int:
        absolute = index + self.depth if index < 0 else index
        if not 0 <= absolute < self.depth:
            raise ValueError(f'{name} contains {index}, outside a ViT of depth {self.depth}')
        return absolute

    def _init_tokens(self) -> None:
        for token in (self.cls_token, self.reg_tokens):
            if token is not None:
                nn.init.trunc_normal_(token, std=0.02)

    def init_weights(self) -> None:
        """Load ``init_cfg=dict(type='Pretrained', checkpoint=..., [prefix='backbone.'],
        [load_pos_enc=False])``.

        The checkpoint (a ``tools/convert_weights.py`` file, or with ``prefix`` one saved by a
        vitdense model, or the work dir of its training, whose last checkpoint is then used) is
        read with ``weights_only=True``; its position table is fitted to this
        ViT with the source codebase's resampling convention, and what could not be loaded is
        logged.
        """
        if self.init_cfg is not None and self.init_cfg.get('type') == 'Pretrained':
            load_pretrained(self, self.init_cfg['checkpoint'], prefix=self.init_cfg.get('prefix'),
                            load_pos_enc=self.init_cfg.get('load_pos_enc', True))
            self._is_init = True
            return
        super().init_weights()

    def _map_shapes(self) -> dict[str, ShapeSpec]:
        """The blocks' maps: ``b{i}`` for each returned block, and the stride key of the last."""
        spec = ShapeSpec(self.embed_dim, self.patch_size)
        return {**{f'b{i}': spec for i in self.out_indices}, self.level_name: spec}

    def output_shape(self) -> dict[str, ShapeSpec]:
        """Channels and stride of every output: the blocks' maps, their cls tokens (stride 0)
        when ``out_cls_token``, and a stem's extra maps."""
        tokens = {f'b{i}_cls': ShapeSpec(self.embed_dim, 0)
                  for i in self.out_indices if self.out_cls_token}
        return {**self._map_shapes(), **tokens, **stem_output_shape(self.patch_embed)}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: (B, C, H, W) -> {b{i} and p*: (B, dim, ceil(H / p), ceil(W / p)),
        b{i}_cls: (B, dim), a stem's extra maps}; the maps in the memory format of x (a
        channels-last input gives channels-last maps, see ``DenseDataPreprocessor``)."""
        memory_format = memory_format_of(x)
        x = self.patch_embed(x)  # (B, dim, h, w), or that and a stem's extra maps
        x, outs = split_stem_output(x)
        b, _, h, w = x.shape
        hw = (h, w)
        x = x.flatten(2).transpose(1, 2)  # (B, h * w, dim)
        prefix = [t.expand(b, -1, -1) for t in (self.cls_token, self.reg_tokens) if t is not None]
        x = torch.cat(prefix + [x], dim=1)  # (B, P + h * w, dim)
        p = self.num_prefix_tokens
        if self.pos_embed is not None:
            x = self.pos_embed(x, hw, p)
        for i, block in enumerate(self.blocks):
            if self.with_checkpoint and self.training:
                x = checkpoint(block, x, hw, p, use_reentrant=False)
            else:
                x = block(x, hw, p)
            if str(i) in self.res_convs:
                grid = tokens_to_map(x[:, p:], hw, memory_format)  # (B, dim, h, w)
                grid = self.res_convs[str(i)](grid).flatten(2).transpose(1, 2)  # (B, h * w, dim)
                x = torch.cat([x[:, :p], grid], dim=1)
            if str(i) in self.cond_pos:
                x = self.cond_pos[str(i)](x, hw, p)
            if str(i) in self.out_norms:
                norm = self.out_norms[str(i)]
                y = tokens_to_map(norm(x[:, p:]), hw, memory_format)  # (B, dim, h, w)
                outs[f'b{i}'] = y
                if self.out_cls_token:
                    outs[f'b{i}_cls'] = norm(x[:, 0])  # (B, dim)
        outs[self.level_name] = outs[f'b{self.out_indices[-1]}']
        return outs
