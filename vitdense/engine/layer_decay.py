"""Layer-wise learning-rate decay for ViT backbones (BEiT, MAE, ViTDet fine-tuning)."""
import re

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from vitdense.registry import OPTIM_WRAPPER_CONSTRUCTORS

# Parameters before the first block (layer 0): the stem, the prefix tokens, the token PE.
_EMBED = re.compile(r'^(patch_embed|cls_token|reg_tokens|mask_token|pos_embed)(\.|$)')
_BLOCK = re.compile(r'^(blocks|cond_pos)\.(\d+)\.')
NO_DECAY_TAGS = ('pos', 'token', 'rel_pos', 'table')


def layer_id(name: str, num_layers: int, backbone_prefix: str) -> int:
    """0 for embeddings, i + 1 for block i (and a conditional PE after it), else num_layers + 1.

    Args:
        name: full parameter name.
        num_layers: the ViT's depth.
        backbone_prefix: 'backbone.' in a detector/segmentor, '' when the model is the ViT.
    """
    if not name.startswith(backbone_prefix):
        return num_layers + 1
    local = name[len(backbone_prefix):]
    if _EMBED.match(local):
        return 0
    m = _BLOCK.match(local)
    if m:
        return int(m.group(2)) + 1
    return num_layers + 1


def no_weight_decay(name: str, param: nn.Parameter) -> bool:
    """Norms, biases and layer scales (1-D), tokens and position tables take no weight decay."""
    return param.ndim <= 1 or any(tag in name for tag in NO_DECAY_TAGS)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Scales each ViT layer's learning rate by ``decay_rate ** (num_layers + 1 - layer_id)``.

    Bao et al. 2021, "BEiT: BERT Pre-Training of Image Transformers", arXiv 2106.08254; used by
    MAE (arXiv 2111.06377) and ViTDet (arXiv 2203.16527). Layer ids: the patch embedding (or
    hybrid stem), tokens and token PE are 0, block ``i`` is ``i + 1``, everything else (output
    norms, neck, heads) is ``num_layers + 1`` and keeps the base learning rate. One parameter
    group per (layer, decay or not); groups also carry ``lr_scale``, ``layer_id`` and
    ``param_names``. In a detector or segmentor only ``backbone.*`` parameters are decayed.

    ``paramwise_cfg``:
        decay_rate: e.g. 0.65 for ViT-B in MAE fine-tuning, 0.7 in ViTDet.
        num_layers: optional; the depth is read from the model (``backbone.depth``, or the length
            of ``backbone.blocks``). Given, it must equal the model's.
        custom_keys: optional, mmengine's ``dict(key=dict(lr_mult=, decay_mult=))``: a parameter
            whose name contains ``key`` (the longest matching key wins, as in mmengine) has its
            layer-decayed lr multiplied by ``lr_mult`` and its weight decay by ``decay_mult``;
            e.g. Deformable DETR's ``sampling_offsets`` and ``reference_points`` at 0.1x lr.
    Any other key raises.
    """

    _KEYS = {'decay_rate', 'num_layers', 'custom_keys'}

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        unknown = sorted(set(paramwise_cfg) - self._KEYS)
        if unknown or 'decay_rate' not in paramwise_cfg:
            missing = [] if 'decay_rate' in paramwise_cfg else ['decay_rate']
            raise ValueError(f'LayerDecayOptimWrapperConstructor takes paramwise_cfg='
                             f'dict(decay_rate=..., [num_layers=..., custom_keys=...]); missing '
                             f'{missing}, unsupported {unknown}')
        self.decay_rate = float(paramwise_cfg['decay_rate'])
        self.num_layers = paramwise_cfg.get('num_layers')
        if not 0.0 < self.decay_rate <= 1.0 or (self.num_layers is not None
                                                 and self.num_layers < 1):
            raise ValueError(f'decay_rate must be in (0, 1] and num_layers >= 1, got '
                             f'{self.decay_rate} and {self.num_layers}')
        self.custom_keys = dict(paramwise_cfg.get('custom_keys') or {})
        for key, mults in self.custom_keys.items():
            bad = sorted(set(mults) - {'lr_mult', 'decay_mult'})
            if not isinstance(mults, dict) or bad:
                raise ValueError(f'paramwise_cfg.custom_keys[{key!r}] must be a dict with '
                                 f'lr_mult and/or decay_mult, got {mults!r}')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        if self.base_lr is None:
            raise ValueError('LayerDecayOptimWrapperConstructor needs optimizer.lr')

    def _model_depth(self, module: nn.Module) -> int:
        """The ViT depth: from the model, checked against ``num_layers`` when given."""
        vit = getattr(module, 'backbone', module)
        depth = getattr(vit, 'depth', None)
        if depth is None and isinstance(getattr(vit, 'blocks', None), nn.ModuleList):
            depth = len(vit.blocks)
        if depth is None:
            if self.num_layers is None:
                raise ValueError(f'LayerDecayOptimWrapperConstructor: {type(vit).__name__} has '
                                 'no depth or blocks; set paramwise_cfg.num_layers')
            return int(self.num_layers)
        if self.num_layers is not None and int(self.num_layers) != depth:
            raise ValueError(f'paramwise_cfg.num_layers={self.num_layers} but the backbone has '
                             f'{depth} blocks; drop num_layers (it is read from the model)')
        return int(depth)

    def _custom(self, name: str) -> tuple[str | None, float, float]:
        """(matching custom key or None, lr_mult, decay_mult) of a parameter."""
        for key in sorted(sorted(self.custom_keys), key=len, reverse=True):
            if key in name:
                mults = self.custom_keys[key]
                return key, float(mults.get('lr_mult', 1.0)), float(mults.get('decay_mult', 1.0))
        return None, 1.0, 1.0

    def add_params(self, params: list, module: nn.Module, prefix: str = '',
                   is_dcn_module: int | float | None = None) -> None:
        """Append one group per (layer id, weight decay or not, custom key) to ``params``."""
        backbone_prefix = 'backbone.' if hasattr(module, 'backbone') else ''
        num_layers = self._model_depth(module)
        groups: dict[tuple[int, bool, str], dict] = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer = layer_id(name, num_layers, backbone_prefix)
            skip_decay = no_weight_decay(name, param)
            custom, lr_mult, decay_mult = self._custom(name)
            group = groups.get((layer, skip_decay, custom or ''))
            if group is None:
                scale = self.decay_rate ** (num_layers + 1 - layer) * lr_mult
                group = dict(params=[], param_names=[], layer_id=layer, lr_scale=scale,
                             lr=self.base_lr * scale)
                if skip_decay:
                    group['weight_decay'] = 0.0
                elif self.base_wd is not None:
                    group['weight_decay'] = self.base_wd * decay_mult
                groups[(layer, skip_decay, custom or '')] = group
            group['params'].append(param)
            group['param_names'].append(name)
        for key in sorted(groups):
            group = groups[key]
            params.append(group)
            print_log(f"layer decay: layer {group['layer_id']}"
                      f"{f' ({key[2]})' if key[2] else ''}, lr {group['lr']:.3g}, "
                      f"weight decay {group.get('weight_decay', 'default')}, "
                      f"{len(group['params'])} tensors", logger='current')
