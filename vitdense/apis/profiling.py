"""Where the time of a training iteration goes: per-stage times, FLOP/s, data-loader throughput.

The logic behind ``tools/analysis/profile_train_step.py``. The model, train dataloader and optim
wrapper are built as mmengine's Runner builds them for ``tools/train.py`` (same config handling,
``--amp`` included). Stages are timed inside a real ``model.train_step``: the methods that the step
calls (data preprocessor, backbone, neck, head forward, head loss, ``parse_losses``, the optim
wrapper's backward, step and zero_grad) are wrapped, on the instances only and for the timed
iterations only, by timers that record exclusive time (a head's ``loss`` minus the head forward it
calls is "loss + target assignment"). The same number of uninstrumented ``model.train_step`` calls,
interleaved with the instrumented ones, show that the stages add up to the step.
"""
import contextlib
import copy
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from vitdense.utils.benchmark import count_flops, machine, matmul_flops_per_s, synchronize, timed

from .launch import prepare_train_cfg

# (key, label); the keys are those of the machine-readable line.
STAGES: tuple[tuple[str, str], ...] = (
    ('data', 'data loading + transforms'),
    ('preprocess', 'data preprocessor'),
    ('backbone', 'backbone forward'),
    ('neck', 'neck forward'),
    ('head', 'head forward'),
    ('loss', 'loss + target assignment'),
    ('backward', 'backward'),
    ('optim', 'optimizer step (incl. grad clipping)'),
)
MODEL_STAGES = tuple(key for key, _ in STAGES if key != 'data')
HEAD_NAMES = ('bbox_head', 'decode_head', 'head')


@dataclass
class StepProfile:
    """Median seconds per stage over the timed iterations, and the step's FLOP rate.

    ``step`` is the instrumented ``model.train_step`` (the model stages plus the few untimed
    lines between them), ``plain_step`` the uninstrumented one; neither includes data loading.
    """
    config: str
    machine: str
    amp: bool
    threads: int
    num_workers: int
    batch_size: int
    input_shape: tuple[int, ...]  # (B, C, H, W) after the data preprocessor
    iters: int
    warmup: int
    stages: dict[str, float]
    step: float
    total: float  # median over iterations of data + instrumented step
    plain_step: float
    plain_total: float  # median over iterations of data + plain step
    flops: int  # forward + backward of one step
    matmul_flops_per_s: float
    has_neck: bool = True

    @property
    def stage_sum(self) -> float:
        return sum(self.stages.values())

    @property
    def model_stage_sum(self) -> float:
        return sum(self.stages[key] for key in MODEL_STAGES)

    @property
    def flops_per_s(self) -> float:
        """Achieved FLOP/s of the plain model step (data loading excluded)."""
        return self.flops / self.plain_step

    @property
    def utilisation(self) -> float:
        return self.flops_per_s / self.matmul_flops_per_s


@dataclass
class DataLoadProfile:
    """Throughput of the train dataloader alone, with ``num_workers`` worker processes."""
    num_workers: int
    batch_size: int
    iters: int
    median_batch: float  # median seconds that ``next()`` blocks
    mean_batch: float  # wall seconds of all timed batches / iters: the throughput

    @property
    def images_per_s(self) -> float:
        return self.batch_size / self.mean_batch


@dataclass
class _StageTimer:
    """Exclusive wall time per stage: a timed call nested in another is charged to itself only."""
    device: torch.device
    seconds: dict[str, float] = field(default_factory=dict)
    _stack: list[list[float]] = field(default_factory=list)  # [start, time spent in children]

    def reset(self) -> None:
        self.seconds = {key: 0.0 for key in MODEL_STAGES}

    def wrap(self, stage: str, fn: Callable) -> Callable:
        def timed_call(*args, **kwargs):
            synchronize(self.device)
            self._stack.append([time.perf_counter(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                synchronize(self.device)
                start, children = self._stack.pop()
                elapsed = time.perf_counter() - start
                self.seconds[stage] += elapsed - children
                if self._stack:
                    self._stack[-1][1] += elapsed
        return timed_call


@contextlib.contextmanager
def _patched(obj: object, name: str, timer: _StageTimer, stage: str) -> Iterator[None]:
    """Replace ``obj.name`` by a timed version on this instance only; restore it on exit."""
    had_own = name in vars(obj)
    original = getattr(obj, name)
    setattr(obj, name, timer.wrap(stage, original))
    try:
        yield
    finally:
        if had_own:
            setattr(obj, name, original)
        else:
            delattr(obj, name)


def model_head(model: BaseModel) -> torch.nn.Module:
    """The head of a Detector (``bbox_head``), Segmentor (``decode_head``) or classifier."""
    for name in HEAD_NAMES:
        head = getattr(model, name, None)
        if head is not None:
            return head
    raise ValueError(f'{type(model).__name__} has none of the attributes {HEAD_NAMES}; the step '
                     'profiler times models built as backbone -> neck -> head '
                     '(Detector, Segmentor, ImageClassifier).')


@contextlib.contextmanager
def instrumented(model: BaseModel, optim_wrapper: OptimWrapper,
                 timer: _StageTimer) -> Iterator[None]:
    """Time each stage of ``model.train_step(data, optim_wrapper)`` while inside."""
    for name in ('backbone', 'data_preprocessor'):
        if getattr(model, name, None) is None:
            raise ValueError(f'{type(model).__name__} has no {name!r}; cannot time its stages.')
    head = model_head(model)
    targets = [(model.data_preprocessor, 'forward', 'preprocess'),
               (model.backbone, 'forward', 'backbone'),
               (head, 'forward', 'head'), (head, 'loss', 'loss'), (model, 'parse_losses', 'loss'),
               (optim_wrapper, 'backward', 'backward'), (optim_wrapper, 'step', 'optim'),
               (optim_wrapper, 'zero_grad', 'optim')]
    if getattr(model, 'neck', None) is not None:
        targets.append((model.neck, 'forward', 'neck'))
    with contextlib.ExitStack() as stack:
        for obj, name, stage in targets:
            stack.enter_context(_patched(obj, name, timer, stage))
        yield


def build_training(cfg: Config) -> tuple[Runner, BaseModel, DataLoader, OptimWrapper]:
    """The model (in train mode, not initialised from ``init_cfg``), train dataloader and optim
    wrapper that mmengine's Runner builds from ``cfg``."""
    runner = Runner.from_cfg(cfg)
    model = runner.model
    model.train()
    loader = runner.build_dataloader(cfg.train_dataloader, seed=runner.seed)
    optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    if not isinstance(optim_wrapper, OptimWrapper):
        raise ValueError(f'optim_wrapper builds a {type(optim_wrapper).__name__}; the step '
                         'profiler needs a single OptimWrapper.')
    return runner, model, loader, optim_wrapper


def _batches(loader: DataLoader) -> Iterator[dict]:
    """The loader's batches, epoch after epoch."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError('The train dataloader yields no batch; check its dataset.')


def _next_timed(batches: Iterator[dict]) -> tuple[dict, float]:
    start = time.perf_counter()
    batch = next(batches)
    return batch, time.perf_counter() - start


def _run_step(model: BaseModel, optim_wrapper: OptimWrapper, batches: Iterator[dict],
              timer: _StageTimer | None) -> tuple[float, float]:
    """Fetch a batch and run one ``train_step`` on it, instrumented when ``timer`` is given:
    (seconds waiting for the batch, seconds of the step)."""
    batch, data_s = _next_timed(batches)
    device = _device(model)
    if timer is None:
        return data_s, timed(lambda: model.train_step(batch, optim_wrapper), device)
    timer.reset()
    with instrumented(model, optim_wrapper, timer):
        return data_s, timed(lambda: model.train_step(batch, optim_wrapper), device)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def load_profile_cfg(config: str, amp: bool = False, cfg_options: dict | None = None,
                     num_workers: int | None = None, work_dir: str | None = None) -> Config:
    """The training config as ``tools/train.py`` sees it, quiet, with an optional worker count.

    Its experiment and visualizer names are unique, so that a second Runner in the process builds
    its own visualizer (mmengine reuses an instance of the same name, with its old work dir).
    """
    cfg = prepare_train_cfg(config, work_dir=work_dir, amp=amp, cfg_options=cfg_options)
    cfg.log_level = 'WARNING'
    cfg.experiment_name = f'profile_{uuid.uuid4().hex[:12]}'
    if cfg.get('visualizer') is not None:
        cfg.visualizer.name = cfg.experiment_name
    if num_workers is not None:
        set_num_workers(cfg.train_dataloader, num_workers)
    return cfg


def set_num_workers(loader_cfg: dict, num_workers: int) -> None:
    """Set a dataloader config's worker count (``persistent_workers`` needs one or more)."""
    if num_workers < 0:
        raise ValueError(f'num_workers must be >= 0, got {num_workers}')
    loader_cfg['num_workers'] = num_workers
    if num_workers == 0:
        loader_cfg['persistent_workers'] = False
        loader_cfg.pop('prefetch_factor', None)


def profile_train_step(config: str, iters: int = 10, warmup: int = 2, amp: bool = False,
                       threads: int | None = None, cfg_options: dict | None = None,
                       num_workers: int | None = None, matmul_size: int = 2048,
                       matmul_repeats: int = 5) -> StepProfile:
    """Profile ``iters`` training iterations of ``config`` after ``warmup`` ones.

    Each iteration runs one instrumented and one plain ``model.train_step``, each on a fresh
    batch from the train dataloader (the time ``next()`` blocks is the data stage). Then one more
    step runs under ``FlopCounterMode``, and a ``matmul_size``-cubed matmul in the step's dtype
    (bf16 under ``amp``, else fp32) gives the reference rate, on the same threads.

    Args:
        threads: torch intra-op threads; None keeps torch's default.
        num_workers: override the train dataloader's worker count.
    """
    if iters < 1 or warmup < 0:
        raise ValueError(f'need iters >= 1 and warmup >= 0, got iters={iters}, warmup={warmup}')
    if threads is not None:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix='profile_') as work_dir:
        cfg = load_profile_cfg(config, amp, cfg_options, num_workers, work_dir)
        _, model, loader, optim_wrapper = build_training(cfg)
        if threads is not None:  # the Runner's environment set-up may change it
            torch.set_num_threads(threads)
        device = _device(model)
        timer = _StageTimer(device)
        batches = _batches(loader)
        shapes: list[tuple[int, ...]] = []
        hook = model.data_preprocessor.register_forward_hook(
            lambda module, args, out: shapes.append(tuple(out['inputs'].shape)))
        rows: dict[str, list[float]] = {key: [] for key, _ in STAGES}
        runs: dict[str, list[float]] = {'step': [], 'total': [], 'plain_step': [],
                                        'plain_total': []}
        for i in range(warmup + iters):
            # instrumented and plain steps alternate in order, so that neither is always second
            for instrument in ((True, False) if i % 2 == 0 else (False, True)):
                data_s, step_s = _run_step(model, optim_wrapper, batches,
                                           timer if instrument else None)
                hook.remove()
                if i < warmup:
                    continue
                rows['data'].append(data_s)
                prefix = '' if instrument else 'plain_'
                runs[prefix + 'step'].append(step_s)
                runs[prefix + 'total'].append(data_s + step_s)
                if instrument:
                    for key in MODEL_STAGES:
                        rows[key].append(timer.seconds[key])
        flop_batch = next(batches)
        flops = count_flops(lambda: model.train_step(flop_batch, optim_wrapper))
        del batches, loader  # stop the workers before timing the matmul
        dtype = torch.bfloat16 if amp else None
        peak = matmul_flops_per_s(dtype, matmul_size, matmul_repeats, device)
        return StepProfile(
            config=config, machine=machine(), amp=amp, threads=torch.get_num_threads(),
            num_workers=cfg.train_dataloader.get('num_workers', 0),
            batch_size=cfg.train_dataloader.batch_size, input_shape=shapes[0],
            iters=iters, warmup=warmup,
            stages={key: statistics.median(values) for key, values in rows.items()},
            **{key: statistics.median(values) for key, values in runs.items()}, flops=flops,
            matmul_flops_per_s=peak, has_neck=getattr(model, 'neck', None) is not None)


def measure_data_loading(loader_cfg: dict, iters: int, warmup: int,
                         seed: int | None = None) -> DataLoadProfile:
    """Time ``iters`` batches of a dataloader built from ``loader_cfg``, after ``warmup`` ones
    (which include starting the workers)."""
    loader = Runner.build_dataloader(copy.deepcopy(loader_cfg), seed=seed)
    batches = _batches(loader)
    for _ in range(warmup):
        next(batches)
    start = time.perf_counter()
    per_batch = [_next_timed(batches)[1] for _ in range(iters)]
    mean = (time.perf_counter() - start) / iters
    return DataLoadProfile(num_workers=loader_cfg.get('num_workers', 0),
                           batch_size=loader_cfg['batch_size'], iters=iters,
                           median_batch=statistics.median(per_batch), mean_batch=mean)


def profile_data_loading(config: str, iters: int = 20, warmup: int = 2,
                         cfg_options: dict | None = None, workers: tuple[int, ...] | None = None,
                         threads: int | None = None) -> list[DataLoadProfile]:
    """Train-dataloader throughput alone (no model) for each worker count in ``workers``;
    None: 0 (loading in the main process) and the config's own count."""
    if threads is not None:
        torch.set_num_threads(threads)
    cfg = load_profile_cfg(config, cfg_options=cfg_options)
    configured = cfg.train_dataloader.get('num_workers', 0)
    workers = workers if workers is not None else tuple(dict.fromkeys((0, configured)))
    seed = cfg.get('randomness', {}).get('seed')
    results = []
    for count in workers:
        loader_cfg = copy.deepcopy(cfg.train_dataloader)
        set_num_workers(loader_cfg, count)
        results.append(measure_data_loading(loader_cfg, iters, warmup, seed))
    return results


def format_step_profile(p: StepProfile) -> str:
    """A table of the stages, the totals, the FLOP rate, and one ``key=value`` line."""
    dtype = 'bf16 autocast' if p.amp else 'fp32'
    lines = [f'# {p.config}', f'# {p.machine}',
             f'# {dtype}, batch {p.batch_size}, input {"x".join(map(str, p.input_shape))}, '
             f'{p.num_workers} dataloader workers; median of {p.iters} iterations after '
             f'{p.warmup} warm-up', '',
             f'{"stage":<46}{"ms":>10}{"share":>8}']
    for key, label in STAGES:
        if key == 'data':
            label = f'{label} ({p.num_workers} workers)'
        if key == 'neck' and not p.has_neck:
            label += ' (no neck)'
        lines.append(f'{label:<46}{p.stages[key] * 1e3:>10.1f}{p.stages[key] / p.total:>8.1%}')
    rule = '-' * 64
    lines += [rule,
              f'{"sum of stages":<46}{p.stage_sum * 1e3:>10.1f}{p.stage_sum / p.total:>8.1%}',
              f'{"total (data + instrumented train_step)":<46}{p.total * 1e3:>10.1f}',
              f'{"plain: data + model.train_step":<46}{p.plain_total * 1e3:>10.1f}',
              '',
              f'model stages {p.model_stage_sum * 1e3:.1f} ms vs plain model.train_step '
              f'{p.plain_step * 1e3:.1f} ms (ratio {p.model_stage_sum / p.plain_step:.3f})',
              f'forward+backward {p.flops / 1e9:.2f} GFLOP per step '
              f'({p.flops / p.batch_size / 1e9:.2f} per image): '
              f'{p.flops_per_s / 1e9:.1f} GFLOP/s over the plain model step; dense '
              f'{"bf16" if p.amp else "fp32"} matmul {p.matmul_flops_per_s / 1e9:.1f} GFLOP/s; '
              f'utilisation {p.utilisation:.1%}',
              '', step_profile_line(p)]
    return '\n'.join(lines)


def step_profile_line(p: StepProfile) -> str:
    """One line of ``key=value`` pairs (times in ms) for scripts."""
    pairs = dict(config=p.config, amp=int(p.amp), threads=p.threads, workers=p.num_workers,
                 batch=p.batch_size, iters=p.iters, warmup=p.warmup)
    pairs.update({f'{key}_ms': f'{p.stages[key] * 1e3:.2f}' for key, _ in STAGES})
    pairs.update(stage_sum_ms=f'{p.stage_sum * 1e3:.2f}', total_ms=f'{p.total * 1e3:.2f}',
                 train_step_ms=f'{p.step * 1e3:.2f}', plain_step_ms=f'{p.plain_step * 1e3:.2f}',
                 plain_total_ms=f'{p.plain_total * 1e3:.2f}', gflop=f'{p.flops / 1e9:.3f}',
                 gflops_per_s=f'{p.flops_per_s / 1e9:.2f}',
                 matmul_gflops_per_s=f'{p.matmul_flops_per_s / 1e9:.2f}',
                 utilisation=f'{p.utilisation:.4f}')
    return ' '.join(f'{key}={value}' for key, value in pairs.items())


def format_data_profiles(config: str, profiles: list[DataLoadProfile]) -> str:
    """A table of data-loading throughput per worker count, and one ``key=value`` line."""
    lines = [f'# {config}: train dataloader alone, {profiles[0].iters} batches of '
             f'{profiles[0].batch_size} after warm-up', '',
             f'{"workers":>8}{"ms/batch (mean)":>18}{"ms/batch (median)":>20}{"images/s":>10}']
    for p in profiles:
        lines.append(f'{p.num_workers:>8}{p.mean_batch * 1e3:>18.1f}'
                     f'{p.median_batch * 1e3:>20.1f}{p.images_per_s:>10.1f}')
    pairs = [f'config={config}'] + [
        f'workers{p.num_workers}_ms_per_batch={p.mean_batch * 1e3:.2f} '
        f'workers{p.num_workers}_images_per_s={p.images_per_s:.2f}' for p in profiles]
    return '\n'.join(lines + ['', ' '.join(pairs)])
