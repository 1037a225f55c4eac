"""Reading source checkpoints from disk and writing converted ones."""
import json
import os

import torch

from vitdense.utils.progress import progress, progress_bar

from .core import SOURCES, StateDict, convert_checkpoint, unwrap_state_dict

try:
    from safetensors.torch import load_file as load_safetensors
except ImportError:  # optional: only HF / timm-hub safetensors files need it
    load_safetensors = None

NATIVE_EPS = 1e-6  # vitdense's LayerNorm eps


def _load_safetensors(path: str) -> StateDict:
    if load_safetensors is None:
        raise ImportError(f'{path} is a safetensors file: pip install safetensors to read it')
    return load_safetensors(path)


def _read_hf_dir(path: str) -> StateDict:
    """A ``save_pretrained`` folder: model.safetensors (maybe sharded) or pytorch_model.bin."""
    single = os.path.join(path, 'model.safetensors')
    index = os.path.join(path, 'model.safetensors.index.json')
    if os.path.isfile(single):
        return _load_safetensors(single)
    if os.path.isfile(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)['weight_map'].values()))
        out: StateDict = {}
        for shard in progress(shards, desc='read shards', unit='shard'):
            out.update(_load_safetensors(os.path.join(path, shard)))
        return out
    bin_path = os.path.join(path, 'pytorch_model.bin')
    if os.path.isfile(bin_path):
        return torch.load(bin_path, map_location='cpu', weights_only=True)
    raise FileNotFoundError(f'{path} is a folder without model.safetensors, '
                            f'model.safetensors.index.json or pytorch_model.bin')


def read_checkpoint(path: str) -> StateDict:
    """Read a source state dict (``torch.load(weights_only=True)``, safetensors, or a HF folder)."""
    if os.path.isdir(path):
        return _read_hf_dir(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    if path.endswith('.safetensors'):
        return _load_safetensors(path)
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(ckpt, dict):
        raise ValueError(f'{path} holds a {type(ckpt).__name__}, not a state dict')
    return unwrap_state_dict(ckpt)


def _hf_eps_note(path: str) -> list[str]:
    config = os.path.join(path, 'config.json') if os.path.isdir(path) else None
    if config is None or not os.path.isfile(config):
        return []
    with open(config) as f:
        eps = json.load(f).get('layer_norm_eps')
    if eps is None or eps == NATIVE_EPS:
        return []
    return [f'the source LayerNorms use eps={eps:g}, vitdense uses {NATIVE_EPS:g}: outputs '
            f'differ slightly (about 1e-6 relative)']


def convert_file(src: str, dst: str, source: str) -> dict:
    """Convert the checkpoint at ``src`` and write ``{'state_dict', 'meta'}`` to ``dst``.

    Returns:
        The metadata written.
    """
    name = os.path.basename(os.path.normpath(src))
    bar = progress_bar(total=3, desc=f'convert {name}', unit='step')  # read, convert, write
    bar.set_postfix_str('read')
    original = read_checkpoint(src)
    bar.update()
    bar.set_postfix_str('convert')
    state_dict, meta = convert_checkpoint(original, source)
    meta['notes'] = meta['notes'] + _hf_eps_note(src)
    meta['converted_from'] = name
    bar.update()
    bar.set_postfix_str('write')
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    torch.save({'state_dict': state_dict, 'meta': meta}, dst)
    bar.update()
    bar.close()
    return meta


def read_converted(path: str) -> tuple[StateDict, dict]:
    """Read a file written by ``tools/convert_weights.py`` (``weights_only=True``)."""
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or meta.get('source') not in SOURCES:
        raise ValueError(f'{path} is not a converted vitdense checkpoint (no conversion '
                         f'metadata). Convert it first: python tools/convert_weights.py {path} '
                         f"OUT.pth --from FORMAT, FORMAT one of: {', '.join(sorted(SOURCES))}")
    return ckpt['state_dict'], meta
