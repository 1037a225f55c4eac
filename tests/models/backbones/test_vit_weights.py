"""load_pretrained: PE adaptation (prefix rows, grids, rel-pos lengths, modes), PE mismatches,
clear errors, and the convert_weights CLI."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from vitdense.models.backbones import ViT, load_pretrained
from vitdense.models.pos_encodings import ResampleMode, resample_grid_table
from vitdense.utils.convert import convert_checkpoint, convert_file, read_converted

REPO = Path(__file__).resolve().parents[3]


def random_vit(seed: int, img: int = 32, **kwargs) -> ViT:
    torch.manual_seed(seed)
    vit = ViT(arch='test', img_size=(img, img), patch_size=8, **kwargs).eval()
    with torch.no_grad():
        for p in vit.parameters():
            p.normal_(std=0.5)
    return vit


def timm_file(vit: ViT, path: Path) -> Path:
    """Our ViT's weights in timm's layout (the same names but for tokens, table and norm).

    timm resamples with antialias, so sources meant to be compared at other sizes use it too.
    """
    sd = vit.state_dict()
    out = {k: v for k, v in sd.items() if k.startswith(('blocks.', 'patch_embed.'))}
    out.update(cls_token=sd['cls_token'], pos_embed=sd['pos_embed.table'])
    out.update({'norm.weight': sd['out_norms.1.weight'], 'norm.bias': sd['out_norms.1.bias']})
    if 'reg_tokens' in sd:
        out['reg_token'] = sd['reg_tokens']
    torch.save(out, path / 'timm.pth')
    convert_file(str(path / 'timm.pth'), str(path / 'converted.pth'), 'timm')
    return path / 'converted.pth'


def detectron2_file(vit: ViT, path: Path) -> Path:
    sd = vit.state_dict()
    net = {k.replace('.pos_enc.', '.'): v for k, v in sd.items() if not k.startswith('out_norms')}
    net['pos_embed'] = net.pop('pos_embed.table')
    torch.save({'model': {f'backbone.net.{k}': v for k, v in net.items()}}, path / 'd2.pth')
    convert_file(str(path / 'd2.pth'), str(path / 'converted.pth'), 'detectron2')
    return path / 'converted.pth'


def features(vit: ViT, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return list(vit(x).values())[-1]


def test_absolute_checkpoint_into_rope_backbone_loads_everything_else(tmp_path):
    source = random_vit(0, use_cls_token=True,
                        pos_embed=dict(type='LearnedAbsolutePE', prefix_entries=1))
    path = timm_file(source, tmp_path)
    rope = random_vit(1, use_cls_token=True, attn_pos_enc=dict(type='RoPE2d'))
    rope_init = {k: v.clone() for k, v in rope.state_dict().items() if '.pos_enc.' in k}
    report = load_pretrained(rope, str(path))
    assert report.unexpected == ['pos_embed.table']
    assert any('was not loaded' in n and 'RoPE2d' in n for n in report.pe_notes)
    assert all('.pos_enc.' in k for k in report.missing)
    if rope_init:  # RoPE state, if it has any, stays at its initialisation and is reported
        assert any('stays at its initialisation' in n for n in report.pe_notes)
    loaded = rope.state_dict()
    for key, value in source.state_dict().items():
        if key in loaded and not key.startswith(('pos_embed', 'out_norms')):
            torch.testing.assert_close(loaded[key], value, atol=0, rtol=0)
    for key, value in rope_init.items():
        torch.testing.assert_close(loaded[key], value, atol=0, rtol=0)


def test_cls_row_folds_into_the_cls_token_when_the_backbone_has_no_row(tmp_path):
    """DINOv2-style table (cls row) into prefix_entries=0 (timm's no_embed_class): same output."""
    kwargs = dict(use_cls_token=True, num_register_tokens=2)
    source = random_vit(0, pos_embed=dict(type='LearnedAbsolutePE', prefix_entries=1,
                                          antialias=True), **kwargs)
    path = timm_file(source, tmp_path)
    folded = random_vit(1, pos_embed=dict(type='LearnedAbsolutePE', prefix_entries=0), **kwargs)
    report = load_pretrained(folded, str(path))
    assert (report.missing, report.unexpected, report.mismatched) == ([], [], [])
    assert any('added into cls_token' in line for line in report.adapted)
    x = torch.randn(1, 3, 40, 24)
    torch.testing.assert_close(features(folded, x), features(source, x), atol=1e-5, rtol=0)


def test_missing_prefix_rows_are_zero_filled(tmp_path):
    source = random_vit(0, use_cls_token=True,
                        pos_embed=dict(type='LearnedAbsolutePE', antialias=True))
    path = timm_file(source, tmp_path)
    target = random_vit(1, use_cls_token=True,
                        pos_embed=dict(type='LearnedAbsolutePE', prefix_entries=1))
    load_pretrained(target, str(path))
    assert torch.count_nonzero(target.pos_embed.table[:, 0]) == 0
    x = torch.randn(1, 3, 24, 40)
    torch.testing.assert_close(features(target, x), features(source, x), atol=1e-5, rtol=0)


def test_source_resampling_mode_is_applied_and_grid_resampled_once(tmp_path):
    source = random_vit(0, use_cls_token=True, pos_embed=dict(type='LearnedAbsolutePE'))
    path = timm_file(source, tmp_path)  # timm: bicubic with antialias
    target = random_vit(1, img=48, use_cls_token=True, pos_embed=dict(type='LearnedAbsolutePE'))
    assert target.pos_embed.mode.antialias is False
    report = load_pretrained(target, str(path))
    timm_mode = ResampleMode('bicubic', antialias=True)
    assert target.pos_embed.mode == timm_mode
    expected = resample_grid_table(source.pos_embed.table, (4, 4), (6, 6), timm_mode)
    torch.testing.assert_close(target.pos_embed.table.detach(), expected, atol=0, rtol=0)
    assert any('resampled once from (4, 4)' in line for line in report.adapted)


def test_an_explicit_config_resampling_wins_over_the_checkpoints(tmp_path):
    """The interpolation a config chose (the variable of a resolution study) is not replaced
    by the checkpoint's convention; the report says which was kept."""
    source = random_vit(0, use_cls_token=True, pos_embed=dict(type='LearnedAbsolutePE'))
    path = timm_file(source, tmp_path)  # timm: bicubic with antialias
    chosen = ResampleMode('bilinear', antialias=False)
    target = random_vit(1, img=48, use_cls_token=True, pos_embed=dict(
        type='LearnedAbsolutePE', interpolation='bilinear'))
    assert target.pos_embed.mode_from_config and target.pos_embed.mode == chosen
    report = load_pretrained(target, str(path))
    assert target.pos_embed.mode == chosen
    assert any("the config's resampling" in line and 'is kept' in line and 'antialias=True' in line
               for line in report.adapted)
    expected = resample_grid_table(source.pos_embed.table, (4, 4), (6, 6), chosen)
    torch.testing.assert_close(target.pos_embed.table.detach(), expected, atol=0, rtol=0)


def test_rel_pos_tables_of_another_length_are_resized_linearly(tmp_path):
    kwargs = dict(window_size=2, global_indices=(1,), out_norm=False,
                  pos_embed=dict(type='LearnedAbsolutePE'),
                  attn_pos_enc=dict(type='DecomposedRelPosPE'))
    source = random_vit(0, img=64, **kwargs)  # global tables: 2 * 8 - 1 = 15 rows
    path = detectron2_file(source, tmp_path)
    target = random_vit(1, img=48, **kwargs)  # 11 rows
    report = load_pretrained(target, str(path))
    assert (report.missing, report.unexpected, report.mismatched) == ([], [], [])
    src = source.blocks[1].attn.pos_enc.rel_pos_h.detach()
    expected = F.interpolate(src.t()[None], size=11, mode='linear')[0].t()
    torch.testing.assert_close(target.blocks[1].attn.pos_enc.rel_pos_h.detach(), expected)
    torch.testing.assert_close(target.blocks[0].attn.pos_enc.rel_pos_w,  # window: same length
                               source.blocks[0].attn.pos_enc.rel_pos_w)
    assert any('blocks.1.attn.pos_enc.rel_pos_h resized linearly from 15 to 11' in line
               for line in report.adapted)


def test_unconverted_checkpoint_is_refused_with_the_fix(tmp_path):
    torch.save(random_vit(0).state_dict(), tmp_path / 'raw.pth')
    with pytest.raises(ValueError, match='convert_weights.py'):
        read_converted(str(tmp_path / 'raw.pth'))


def test_conversion_errors_name_the_problem():
    with pytest.raises(KeyError, match='known: .*timm'):
        convert_checkpoint({}, 'timn')
    with pytest.raises(ValueError, match='not a square grid'):
        convert_checkpoint({'blocks.0.norm1.weight': torch.ones(4),
                            'cls_token': torch.zeros(1, 1, 4),
                            'pos_embed': torch.zeros(1, 12, 4)}, 'timm')
    with pytest.raises(ValueError, match='is ambiguous'):
        convert_checkpoint({'blocks.0.norm1.weight': torch.ones(4),
                            'cls_token': torch.zeros(1, 1, 4),
                            'reg_token': torch.zeros(1, 4, 4),
                            'pos_embed': torch.zeros(1, 5, 4)}, 'timm')
    with pytest.raises(KeyError, match='no transformer blocks'):
        convert_checkpoint({'cls_token': torch.zeros(1, 1, 4)}, 'hf_vit')


def test_convert_weights_cli(tmp_path):
    source = random_vit(0, use_cls_token=True, pos_embed=dict(type='LearnedAbsolutePE'))
    sd = source.state_dict()
    timm = {k: v for k, v in sd.items() if k.startswith(('blocks.', 'patch_embed.'))}
    timm.update(cls_token=sd['cls_token'], pos_embed=sd['pos_embed.table'],
                **{'head.weight': torch.zeros(3, 32)})
    torch.save(timm, tmp_path / 'in.pth')
    result = subprocess.run([sys.executable, str(REPO / 'tools/convert_weights.py'),
                             str(tmp_path / 'in.pth'), str(tmp_path / 'out.pth'),
                             '--from', 'timm'], capture_output=True, text=True, check=True)
    assert '2 blocks, width 32, 1 keys dropped' in result.stdout
    state_dict, meta = read_converted(str(tmp_path / 'out.pth'))
    assert meta['pos_embed_resample'] == dict(interpolation='bicubic', antialias=True, offset=None)
    torch.testing.assert_close(state_dict['pos_embed.table'], sd['pos_embed.table'])


def test_init_cfg_pretrained_loads_through_load_pretrained(tmp_path):
    if 'init_weights' not in ViT.__dict__:
        pytest.skip('ViT.init_weights does not call load_pretrained yet (vit.py change)')
    source = random_vit(0, use_cls_token=True, pos_embed=dict(type='LearnedAbsolutePE'))
    path = timm_file(source, tmp_path)
    vit = ViT(arch='test', img_size=(48, 48), patch_size=8, use_cls_token=True,
              pos_embed=dict(type='LearnedAbsolutePE'),
              init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    vit.init_weights()
    assert vit.pos_embed.mode.antialias is True  # timm's convention, from the metadata
    assert vit.pos_embed.table.shape == (1, 36, 32)  # resampled to the 6 x 6 reference grid
    torch.testing.assert_close(vit.blocks[1].mlp.fc2.weight, source.blocks[1].mlp.fc2.weight)


def test_prefix_loads_the_backbone_of_a_saved_model(tmp_path):
    """mmdet's convention: init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')
    takes the backbone out of another model's training checkpoint, and a table saved at another
    (square) grid is resampled to this backbone's."""
    abs_pe = dict(pos_embed=dict(type='LearnedAbsolutePE'), use_cls_token=True)
    src = random_vit(0, img=32, **abs_pe)
    ckpt = {'meta': {'iter': 3},
            'state_dict': {**{f'backbone.{k}': v for k, v in src.state_dict().items()},
                           'head.fc.weight': torch.zeros(8, 4)}}
    torch.save(ckpt, tmp_path / 'model.pth')
    same = random_vit(1, img=32, **abs_pe)
    report = load_pretrained(same, str(tmp_path / 'model.pth'), prefix='backbone.')
    assert not report.missing and not report.unexpected and not report.mismatched
    for key, value in src.state_dict().items():
        assert torch.equal(same.state_dict()[key], value), key
    x = torch.randn(1, 3, 40, 24)
    for name, value in src(x).items():
        torch.testing.assert_close(same(x)[name], value)

    bigger = random_vit(2, img=48, **abs_pe)  # 6 x 6 reference grid: the 4 x 4 table is resampled
    report = load_pretrained(bigger, str(tmp_path / 'model.pth'), prefix='backbone.')
    assert not report.missing and not report.mismatched
    assert any('resampled once from (4, 4)' in line for line in report.adapted)
    rows = bigger.pos_embed.prefix_entries
    expected = resample_grid_table(src.state_dict()['pos_embed.table'][:, rows:], (4, 4), (6, 6),
                                   bigger.pos_embed.mode)
    torch.testing.assert_close(bigger.state_dict()['pos_embed.table'][:, rows:], expected)

    with pytest.raises(ValueError, match="no weights under the prefix 'encoder.'"):
        load_pretrained(same, str(tmp_path / 'model.pth'), prefix='encoder.')

    with pytest.raises(FileNotFoundError, match=r"'nowhere.pth' \(the backbone's init_cfg"):
        load_pretrained(same, 'nowhere.pth', prefix='backbone.')


def test_prefix_load_from_a_work_dir_takes_its_last_checkpoint(tmp_path):
    """init_cfg.checkpoint may name the work dir of the training the backbone comes from: the
    checkpoint recorded in its last_checkpoint file is loaded; before training, the error says
    which config to train."""
    work = tmp_path / 'work'
    work.mkdir()
    sources = {it: random_vit(it) for it in (2, 4)}
    for it, src in sources.items():
        torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}},
                   work / f'iter_{it}.pth')
    (work / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))
    vit = ViT(arch='test', img_size=(32, 32), patch_size=8,
              init_cfg=dict(type='Pretrained', checkpoint=str(work), prefix='backbone.'))
    vit.init_weights()
    for key, value in sources[4].state_dict().items():
        assert torch.equal(vit.state_dict()[key], value), key

    with pytest.raises(FileNotFoundError, match=r"'.*untrained' does not exist .*tools/train\.py"):
        load_pretrained(vit, str(tmp_path / 'untrained'), prefix='backbone.')


def test_load_pos_enc_false_leaves_every_encoding_at_its_initialisation(tmp_path):
    """The resolution study starts each family from the same pretrained stem and blocks with a
    fresh encoding: init_cfg's load_pos_enc=False loads the rest and keeps the PEs' own init."""
    kwargs = dict(pos_embed=dict(type='LearnedAbsolutePE'), attn_pos_enc=dict(type='RelPosBiasPE'),
                  window_size=2, global_indices=(1, ))
    src = random_vit(0, **kwargs)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}},
               tmp_path / 'model.pth')
    dst = random_vit(1, **kwargs)
    init = {k: v.clone() for k, v in dst.state_dict().items()}
    pe = {k for k in init if k.startswith('pos_embed.') or '.pos_enc.' in k}
    assert 'pos_embed.table' in pe and len(pe) > 1  # a token PE and attention PEs
    dst.init_cfg = dict(type='Pretrained', checkpoint=str(tmp_path / 'model.pth'),
                        prefix='backbone.', load_pos_enc=False)
    dst.init_weights()
    for key, value in dst.state_dict().items():
        expected = init[key] if key in pe else src.state_dict()[key]
        assert torch.equal(value, expected), key

    report = load_pretrained(random_vit(1, **kwargs), str(tmp_path / 'model.pth'),
                             prefix='backbone.', load_pos_enc=False)
    assert any('not loaded (load_pos_enc=False)' in line for line in report.adapted)
    assert set(report.missing) == pe


def test_an_absolute_table_into_a_sincos_backbone_is_skipped_not_an_error(tmp_path):
    """A sin-cos PE has no resampling convention to record (it recomputes its table): reading a
    model checkpoint with an absolute table for it must not fail."""
    src = random_vit(0, pos_embed=dict(type='LearnedAbsolutePE'))
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}},
               tmp_path / 'model.pth')
    for load_pos_enc in (True, False):
        dst = random_vit(1, pos_embed=dict(type='SinCos2dPE'))
        report = load_pretrained(dst, str(tmp_path / 'model.pth'), prefix='backbone.',
                                 load_pos_enc=load_pos_enc)
        assert not report.missing and not report.mismatched
        torch.testing.assert_close(dst.blocks[1].mlp.fc2.weight, src.blocks[1].mlp.fc2.weight)
