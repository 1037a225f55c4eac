"""Parity of converted HF checkpoints (written with ``save_pretrained``) with the HF models.

Each HF model is built from a small random config, its parameters perturbed (``+ 0.2 randn``,
so that layer scale and the zero-initialised rel-pos tables matter), saved to disk in the
legacy key layout, converted, loaded into a vitdense ViT, and compared in fp32 within 1e-5 at
the native size and at two non-square sizes.
"""
import pytest
import torch

from vitdense.models.backbones import ViT, load_pretrained
from vitdense.models.pos_encodings import ResampleMode
from vitdense.utils.convert import convert_checkpoint, convert_file, read_checkpoint

transformers = pytest.importorskip('transformers')

ATOL = 1e-5
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            attn_implementation='eager')  # matches ViT arch='test'
ABS = dict(type='LearnedAbsolutePE', prefix_entries=1)


def perturbed(model: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return model.eval()


def tokens_to_map(tokens: torch.Tensor, skip: int, like: torch.Tensor) -> torch.Tensor:
    """HF (B, P + h * w, C) -> (B, C, h, w), dropping the P prefix tokens."""
    b, c, h, w = like.shape
    return tokens[:, skip:].transpose(1, 2).reshape(b, c, h, w)  # (B, C, h, w)


def hf_vit():
    cfg = transformers.ViTConfig(**TINY, intermediate_size=128, image_size=32, patch_size=8,
                                 layer_norm_eps=1e-6)
    model = transformers.ViTModel(cfg, add_pooling_layer=False)
    return model, lambda x: model(x, interpolate_pos_encoding=True).last_hidden_state


def hf_vit_mae():
    cfg = transformers.ViTMAEConfig(**TINY, intermediate_size=128, image_size=32, patch_size=8,
                                    layer_norm_eps=1e-6, mask_ratio=0.0)
    model = transformers.ViTMAEModel(cfg)

    def forward(x):  # increasing noise keeps the token order (no shuffling)
        n = (x.shape[2] // 8) * (x.shape[3] // 8)
        noise = torch.arange(n, dtype=torch.float32).expand(x.shape[0], n)
        return model(x, noise=noise, interpolate_pos_encoding=True).last_hidden_state
    return model, forward


def hf_dinov2():
    model = transformers.Dinov2Model(transformers.Dinov2Config(**TINY, mlp_ratio=4,
                                                               image_size=28, patch_size=7))
    return model, lambda x: model(x).last_hidden_state


def hf_dinov2_reg():
    cfg = transformers.Dinov2WithRegistersConfig(**TINY, mlp_ratio=4, image_size=28,
                                                 patch_size=7, num_register_tokens=3)
    model = transformers.Dinov2WithRegistersModel(cfg)
    return model, lambda x: model(x).last_hidden_state


def hf_vitdet():
    cfg = transformers.VitDetConfig(**TINY, mlp_ratio=4, image_size=64, pretrain_image_size=32,
                                    patch_size=8, use_relative_position_embeddings=True,
                                    window_size=4, window_block_indices=[0])
    model = transformers.VitDetModel(cfg)
    return model, lambda x: model(x).last_hidden_state  # (B, C, h, w)


VITDET_KW = dict(img_size=(64, 64), patch_size=8, window_size=4, global_indices=(1,),
                 attn_pos_enc=dict(type='DecomposedRelPosPE'), out_norm=False)
CASES = {
    'vit': (hf_vit, 'hf_vit', 1, [(32, 32), (40, 56), (24, 48)],
            dict(img_size=(32, 32), patch_size=8, use_cls_token=True, pos_embed=ABS)),
    'vit_mae': (hf_vit_mae, 'hf_vit_mae', 1, [(32, 32), (40, 56), (24, 48)],
                dict(img_size=(32, 32), patch_size=8, use_cls_token=True, pos_embed=ABS)),
    'dinov2': (hf_dinov2, 'hf_dinov2', 1, [(28, 28), (35, 49), (42, 28)],
               dict(img_size=(28, 28), patch_size=7, use_cls_token=True, layer_scale=1.0,
                    pos_embed=ABS)),
    'dinov2_reg': (hf_dinov2_reg, 'hf_dinov2_with_registers', 4, [(28, 28), (35, 49), (42, 28)],
                   dict(img_size=(28, 28), patch_size=7, use_cls_token=True,
                        num_register_tokens=3, layer_scale=1.0, pos_embed=ABS)),
    # ref_grid=(4, 4): the pre-training grid, resampled at every size as VitDet does.
    'vitdet': (hf_vitdet, 'hf_vitdet', None, [(64, 64), (80, 104), (56, 72)],
               dict(VITDET_KW, pos_embed=dict(type='LearnedAbsolutePE', ref_grid=(4, 4)))),
}


def convert_and_load(tmp_path, hf_model, source, vit_kwargs):
    hf_model.save_pretrained(tmp_path / 'hf')
    meta = convert_file(str(tmp_path / 'hf'), str(tmp_path / 'converted.pth'), source)
    vit = ViT(arch='test', **vit_kwargs).eval()
    report = load_pretrained(vit, str(tmp_path / 'converted.pth'))
    return vit, report, meta


@pytest.mark.parametrize('name', list(CASES))
def test_hf_parity(tmp_path, name):
    build, source, skip, sizes, vit_kwargs = CASES[name]
    hf_model, hf_forward = build()
    perturbed(hf_model)
    vit, report, meta = convert_and_load(tmp_path, hf_model, source, vit_kwargs)
    assert report.missing == [] and report.unexpected == [] and report.mismatched == []
    assert meta['source'] == source
    for h, w in sizes:
        x = torch.randn(2, 3, h, w)
        with torch.no_grad():
            ours = list(vit(x).values())[-1]
            ref = hf_forward(x)
        if skip is not None:
            ref = tokens_to_map(ref, skip, ours)
        assert ours.shape == ref.shape
        torch.testing.assert_close(ours, ref, atol=ATOL, rtol=0, msg=f'{name} at {(h, w)}')


def test_dinov2_registers_need_the_antialias_from_metadata(tmp_path):
    """The recorded convention matters: without antialias the non-native output is off."""
    build, source, skip, sizes, vit_kwargs = CASES['dinov2_reg']
    hf_model, hf_forward = build()
    perturbed(hf_model)
    vit, _, meta = convert_and_load(tmp_path, hf_model, source, vit_kwargs)
    assert meta['pos_embed_resample']['antialias'] is True
    assert vit.pos_embed.mode == ResampleMode('bicubic', antialias=True)
    vit.pos_embed.mode = ResampleMode('bicubic', antialias=False)
    x = torch.randn(1, 3, 35, 49)
    with torch.no_grad():
        ours = list(vit(x).values())[-1]
        diff = (ours - tokens_to_map(hf_forward(x), skip, ours)).abs()
    assert diff.max() > 1e-4


def test_vitdet_table_resampled_at_load_matches_at_native_size(tmp_path):
    """With the backbone's own ref grid (8 x 8), the 4 x 4 table is resampled once at load:
    exact at the native size; at other sizes the source resamples from 4 x 4 instead."""
    hf_model, hf_forward = hf_vitdet()
    perturbed(hf_model)
    vit, report, _ = convert_and_load(tmp_path, hf_model, 'hf_vitdet',
                                      dict(VITDET_KW, pos_embed=dict(type='LearnedAbsolutePE')))
    assert vit.pos_embed.table.shape == (1, 64, 32)
    assert any('resampled once from (4, 4)' in line for line in report.adapted)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(vit(x)['p3'], hf_forward(x), atol=ATOL, rtol=0)


@pytest.mark.parametrize('name', ['vit', 'vit_mae', 'dinov2_reg'])
def test_hf_v5_in_memory_names_convert_like_the_disk_ones(tmp_path, name):
    build, source = CASES[name][:2]
    hf_model, _ = build()
    perturbed(hf_model)
    hf_model.save_pretrained(tmp_path / 'hf')
    from_disk, _ = convert_checkpoint(read_checkpoint(str(tmp_path / 'hf')), source)
    in_memory = hf_model.state_dict()
    assert any('q_proj' in k for k in in_memory)  # transformers 5.x names
    from_memory, _ = convert_checkpoint(in_memory, source)
    assert from_disk.keys() == from_memory.keys()
    for key in from_disk:
        torch.testing.assert_close(from_disk[key], from_memory[key], atol=0, rtol=0)
