"""Hand-built state dicts in each source layout round-trip: convert -> load -> same tensors.

A random vitdense ViT is written out in the source's key layout (the inverse mapping, spelled
out here per format, with the heads/decoders such files carry), converted from disk, and loaded
into a fresh ViT: no missing, unexpected or mismatched keys, and every tensor equal.
"""
import pytest
import torch

from vitdense.models.backbones import ViT, load_pretrained
from vitdense.utils.convert import convert_file

DIM, DEPTH = 32, 2  # ViT arch='test'
LAST = f'out_norms.{DEPTH - 1}'
ABS1 = dict(type='LearnedAbsolutePE', prefix_entries=1)


def random_vit(seed: int, **kwargs) -> ViT:
    torch.manual_seed(seed)
    vit = ViT(arch='test', img_size=(32, 32), patch_size=8, **kwargs)
    with torch.no_grad():
        for p in vit.parameters():
            p.normal_()
    return vit


def rand(*shape: int) -> torch.Tensor:
    return torch.randn(*shape)


def blocks(sd: dict, rename: dict[str, str] | None = None) -> dict:
    """Block keys of our ViT under another layout (``rename`` maps our suffixes)."""
    out = {}
    for key, value in sd.items():
        if key.startswith('blocks.'):
            _, i, rest = key.split('.', 2)
            out[f'blocks.{i}.{(rename or {}).get(rest, rest)}'] = value
    return out


def patch(sd: dict) -> dict:
    return {k: v for k, v in sd.items() if k.startswith('patch_embed.proj.')}


def timm_layout(sd: dict) -> dict:
    return {'cls_token': sd['cls_token'], 'reg_token': sd['reg_tokens'],
            'pos_embed': sd['pos_embed.table'], **patch(sd), **blocks(sd),
            'norm.weight': sd[f'{LAST}.weight'], 'norm.bias': sd[f'{LAST}.bias'],
            'head.weight': rand(10, DIM), 'head.bias': rand(10)}


def deit_distilled_layout(sd: dict) -> dict:
    model = {'cls_token': sd['cls_token'], 'dist_token': sd['reg_tokens'],
             'pos_embed': sd['pos_embed.table'], **patch(sd), **blocks(sd),
             'norm.weight': sd[f'{LAST}.weight'], 'norm.bias': sd[f'{LAST}.bias'],
             'head.weight': rand(10, DIM), 'head_dist.weight': rand(10, DIM)}
    return {'model': model, 'epoch': torch.tensor(300)}


def deit3_layout(sd: dict) -> dict:
    model = {'cls_token': sd['cls_token'], 'pos_embed': sd['pos_embed.table'],
             'patch_embed.proj.weight': sd['patch_embed.proj.weight'],
             'patch_embed.proj.bias': sd['patch_embed.proj.bias'],
             **blocks(sd, {'ls1.gamma': 'gamma_1', 'ls2.gamma': 'gamma_2'}),
             'norm.weight': sd[f'{LAST}.weight'], 'norm.bias': sd[f'{LAST}.bias'],
             'head.weight': rand(10, DIM)}
    return {'model': model}


def mae_pretrained_layout(sd: dict) -> dict:
    model = {'cls_token': sd['cls_token'], 'pos_embed': sd['pos_embed.table'],
             **patch(sd), **blocks(sd),
             'norm.weight': sd[f'{LAST}.weight'], 'norm.bias': sd[f'{LAST}.bias'],
             'mask_token': rand(1, 1, 16), 'decoder_embed.weight': rand(16, DIM),
             'decoder_pos_embed': rand(1, 25, 16), 'decoder_blocks.0.norm1.weight': rand(16),
             'decoder_norm.weight': rand(16), 'decoder_pred.weight': rand(192, 16)}
    return {'model': model}


def mae_finetuned_layout(sd: dict) -> dict:
    model = {'cls_token': sd['cls_token'], 'pos_embed': sd['pos_embed.table'],
             **patch(sd), **blocks(sd),
             'fc_norm.weight': rand(DIM), 'fc_norm.bias': rand(DIM), 'head.weight': rand(10, DIM)}
    return {'model': model}


def dinov2_layout(sd: dict) -> dict:
    return {'cls_token': sd['cls_token'], 'register_tokens': sd['reg_tokens'],
            'pos_embed': sd['pos_embed.table'], 'mask_token': rand(1, DIM),
            **patch(sd), **blocks(sd),
            'norm.weight': sd[f'{LAST}.weight'], 'norm.bias': sd[f'{LAST}.bias']}


def detectron2_layout(sd: dict) -> dict:
    net = {'pos_embed': torch.cat([rand(1, 1, DIM), sd['pos_embed.table']], dim=1),  # cls row
           'patch_embed.proj.weight': sd['patch_embed.proj.weight'],
           'patch_embed.proj.bias': sd['patch_embed.proj.bias'],
           **blocks(sd, {'attn.pos_enc.rel_pos_h': 'attn.rel_pos_h',
                         'attn.pos_enc.rel_pos_w': 'attn.rel_pos_w'})}
    model = {f'backbone.net.{k}': v for k, v in net.items()}
    model.update({'backbone.simfp_2.0.weight': rand(DIM, 16, 2, 2),
                  'backbone.simfp_5.1.norm.weight': rand(DIM),
                  'roi_heads.box_predictor.cls_score.weight': rand(81, 64)})
    return {'model': model, '__author__': 'test'}


_MM_BLOCK = {'norm1.weight': 'ln1.weight', 'norm1.bias': 'ln1.bias', 'norm2.weight': 'ln2.weight',
             'norm2.bias': 'ln2.bias', 'mlp.fc1.weight': 'ffn.layers.0.0.weight',
             'mlp.fc1.bias': 'ffn.layers.0.0.bias', 'mlp.fc2.weight': 'ffn.layers.1.weight',
             'mlp.fc2.bias': 'ffn.layers.1.bias'}


def mm_layout(sd: dict, attn: dict[str, str]) -> dict:
    out = {'backbone.cls_token': sd['cls_token'], 'backbone.pos_embed': sd['pos_embed.table'],
           'backbone.patch_embed.projection.weight': sd['patch_embed.proj.weight'],
           'backbone.patch_embed.projection.bias': sd['patch_embed.proj.bias'],
           'backbone.ln1.weight': sd[f'{LAST}.weight'], 'backbone.ln1.bias': sd[f'{LAST}.bias']}
    for key, value in blocks(sd, {**_MM_BLOCK, **attn}).items():
        out['backbone.layers.' + key[len('blocks.'):]] = value
    return out


def mmpretrain_layout(sd: dict) -> dict:
    out = mm_layout(sd, {'ls1.gamma': 'attn.gamma1.weight', 'ls2.gamma': 'ffn.gamma2.weight'})
    out['head.layers.head.weight'] = rand(10, DIM)
    return {'state_dict': out, 'meta': {'epoch': 1}}


def mmseg_layout(sd: dict) -> dict:
    out = mm_layout(sd, {'attn.qkv.weight': 'attn.attn.in_proj_weight',
                         'attn.qkv.bias': 'attn.attn.in_proj_bias',
                         'attn.proj.weight': 'attn.attn.out_proj.weight',
                         'attn.proj.bias': 'attn.attn.out_proj.bias'})
    out['decode_head.conv_seg.weight'] = rand(150, 64, 1, 1)
    return {'state_dict': out}


VITDET = dict(window_size=2, global_indices=(1,), attn_pos_enc=dict(type='DecomposedRelPosPE'),
              pos_embed=dict(type='LearnedAbsolutePE'))
CASES = {
    # name: (source, layout, ViT kwargs, source keys that must be reported as dropped)
    'timm_reg': ('timm', timm_layout,
                 dict(use_cls_token=True, num_register_tokens=4,
                      pos_embed=dict(type='LearnedAbsolutePE')), ['head.weight']),
    'deit_distilled': ('deit', deit_distilled_layout,
                       dict(use_cls_token=True, num_register_tokens=1,
                            pos_embed=dict(type='LearnedAbsolutePE', prefix_entries=2)),
                       ['head_dist.weight']),
    'deit3': ('deit3', deit3_layout,
              dict(use_cls_token=True, layer_scale=1.0, pos_embed=dict(type='LearnedAbsolutePE')),
              ['head.weight']),
    'mae_pretrained': ('mae', mae_pretrained_layout, dict(use_cls_token=True, pos_embed=ABS1),
                       ['mask_token', 'decoder_pred.weight']),
    'mae_finetuned': ('mae', mae_finetuned_layout,
                      dict(use_cls_token=True, pos_embed=ABS1, out_norm=False), ['fc_norm.weight']),
    'dinov2_reg': ('dinov2', dinov2_layout,
                   dict(use_cls_token=True, num_register_tokens=4, layer_scale=1.0, pos_embed=ABS1),
                   ['mask_token']),
    'detectron2': ('detectron2', detectron2_layout, dict(VITDET, out_norm=False),
                   ['backbone.simfp_2.0.weight']),
    'mmpretrain': ('mmpretrain', mmpretrain_layout,
                   dict(use_cls_token=True, layer_scale=1.0, pos_embed=ABS1),
                   ['head.layers.head.weight']),
    'mmseg': ('mmseg', mmseg_layout, dict(use_cls_token=True, pos_embed=ABS1),
              ['decode_head.conv_seg.weight']),
}


@pytest.mark.parametrize('name', list(CASES))
def test_round_trip(tmp_path, name):
    source, layout, vit_kwargs, dropped = CASES[name]
    original = random_vit(0, **vit_kwargs)
    expected = original.state_dict()
    torch.save(layout(expected), tmp_path / 'source.pth')
    meta = convert_file(str(tmp_path / 'source.pth'), str(tmp_path / 'out.pth'), source)
    assert meta['unconverted'] == [] and set(dropped) <= set(meta['dropped'])
    assert meta['depth'] == DEPTH and meta['embed_dim'] == DIM and meta['patch_size'] == 8
    assert tuple(meta['ref_grid']) == (4, 4)
    fresh = random_vit(1, **vit_kwargs)
    report = load_pretrained(fresh, str(tmp_path / 'out.pth'))
    assert (report.missing, report.unexpected, report.mismatched) == ([], [], [])
    loaded = fresh.state_dict()
    assert loaded.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(loaded[key], expected[key], atol=0, rtol=0, msg=key)


def test_vit_kwargs_in_metadata_rebuild_the_source_architecture(tmp_path):
    """``meta['vit_kwargs']`` builds a ViT that takes the weights without any adaptation."""
    original = random_vit(0, use_cls_token=True, num_register_tokens=4, layer_scale=1.0,
                          pos_embed=ABS1)
    torch.save(dinov2_layout(original.state_dict()), tmp_path / 'source.pth')
    meta = convert_file(str(tmp_path / 'source.pth'), str(tmp_path / 'out.pth'), 'dinov2')
    assert meta['pos_embed_resample'] == dict(interpolation='bicubic', antialias=True, offset=None)
    vit = ViT(arch='test', img_size=(32, 32), **meta['vit_kwargs'])
    report = load_pretrained(vit, str(tmp_path / 'out.pth'))
    assert (report.missing, report.unexpected, report.mismatched, report.adapted) == ([], [], [],
                                                                                     [])
