"""tools/test.py --amp: the test loop runs under autocast (bf16 on a CPU), and its detections
stay those of the fp32 test within bf16's precision."""
import pickle

import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from vitdense.apis import prepare_test_cfg
from vitdense.registry import HOOKS


@HOOKS.register_module(force=True)
class RecordAutocastHook(Hook):
    """Records, at every forward of the backbone in the test, whether CPU autocast is on and
    its dtype (mmengine's TestLoop enters autocast around the test step only)."""

    seen: list[tuple[bool, torch.dtype]] = []

    def before_test(self, runner):
        def record(module, args):
            RecordAutocastHook.seen.append((torch.is_autocast_enabled('cpu'),
                                            torch.get_autocast_dtype('cpu')))
        runner.model.backbone.register_forward_pre_hook(record)


def run_test(config, trained_det, tmp_path, amp: bool) -> list:
    out = str(tmp_path / f'amp{amp}.pkl')
    cfg = prepare_test_cfg(config, trained_det['checkpoint'],
                           str(tmp_path / f'work{amp}'), out=out, amp=amp)
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='RecordAutocastHook')]
    RecordAutocastHook.seen = []
    Runner.from_cfg(cfg).test()
    with open(out, 'rb') as f:
        return pickle.load(f)


def test_amp_tests_under_bf16_autocast_with_the_fp32_detections(tiny_configs, trained_det,
                                                                  tmp_path):
    plain = run_test(tiny_configs['det'], trained_det, tmp_path, amp=False)
    assert RecordAutocastHook.seen and not any(on for on, _ in RecordAutocastHook.seen)
    mixed = run_test(tiny_configs['det'], trained_det, tmp_path, amp=True)
    assert RecordAutocastHook.seen and all(on and dtype == torch.bfloat16
                                           for on, dtype in RecordAutocastHook.seen)
    assert len(mixed) == len(plain)
    for a, b in zip(plain, mixed):
        sa, sb = a['pred_instances']['scores'], b['pred_instances']['scores']
        # bf16 keeps ~3 significant digits: the top scores agree to a few hundredths
        k = min(len(sa), len(sb), 5)
        assert k > 0
        assert torch.allclose(sa[:k].float(), sb[:k].float(), atol=0.05)
