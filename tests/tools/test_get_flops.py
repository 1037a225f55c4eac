"""tools/analysis/get_flops.py: the ViT blocks' FLOPs equal the closed form, modules add up,
parameters are the model's, the table prints the totals."""
import pytest
from tool_helpers import tool


@pytest.mark.parametrize('kind', ['det', 'seg'])
def test_flops_and_params_per_module(tiny_configs, kind, capsys):
    cost = tool('get_flops').main([tiny_configs[kind], '--shape', '100', '150', '--depth', '1'])
    assert cost.input_shape == (100, 150)
    ph, pw = cost.padded_shape  # padded to the preprocessor's divisor (64 det, 32 seg)
    assert (ph, pw) == ((128, 192) if kind == 'det' else (128, 160))
    modules = {m.name: m for m in cost.modules}
    # ViT 'test': width 32, 2 blocks, MLP ratio 4, one token per 16 x 16 pixels. Per block and
    # token 12 d^2 multiply-adds in the linear layers; attention 2 N^2 d (QK^T and AV).
    n, d = (ph // 16) * (pw // 16), 32
    assert modules['backbone.blocks'].flops == 2 * (2 * 12 * d * d * n + 2 * 2 * n * n * d)
    top = [m for m in cost.modules if m.depth == 1]
    assert sum(m.flops for m in top) == cost.total.flops > 0
    assert sum(m.params for m in top) == cost.total.params
    assert {m.name for m in top if m.params} == {'backbone', 'neck', 'bbox_head' if kind == 'det'
                                                 else 'decode_head'}
    out = capsys.readouterr().out
    assert f'Flops: {cost.total.flops / 1e9:.3f} GFLOPs' in out
    assert f'Params: {cost.total.params / 1e6:.3f} M' in out
    assert '  backbone' in out and '    blocks' not in out  # --depth 1


def test_flops_grow_with_the_input(tiny_configs):
    small = tool('get_flops').main([tiny_configs['det'], '--shape', '128'])
    large = tool('get_flops').main([tiny_configs['det'], '--shape', '256'])
    assert large.total.params == small.total.params
    # Convolutions scale with the pixels (x4), global attention faster.
    assert large.total.flops > 4 * small.total.flops
