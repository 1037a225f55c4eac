"""Time a config's training dataset with and without ``LoadImageFromFile(cache_bytes=...)``.

    python tools/analysis/bench_loader_cache.py [CONFIG] [--batches 200] [--batch 64] [--rounds 2] \
        [--cache-bytes N] [--cfg-root DATA_ROOT]

Reads ``batch`` random samples ``batches`` times in this process (no loader workers), without
and with the decode cache in alternating rounds, and prints the median seconds per batch over
the last quarter of the batches (the cache warm for the images drawn so far) and their ratio.
The default config is the demo's crop pretraining, which reads each train image ~20 times.
"""
import argparse
import random
import statistics
import time

from mmengine.registry import DefaultScope

from vitdense.apis import load_config
from vitdense.registry import DATASETS

CONFIG = 'configs/cls/cls_vit-t-hybrid_1xb64-demo_shapes-crops.py'


def time_batches(cfg, cache_bytes: int, batches: int, batch: int, seed: int) -> float:
    ds_cfg = cfg.train_dataloader.dataset.copy()
    ds_cfg.pipeline = [dict(step) for step in ds_cfg.pipeline]
    loads = [s for s in ds_cfg.pipeline if s['type'] == 'LoadImageFromFile']
    if not loads:
        raise KeyError('the training pipeline has no LoadImageFromFile to cache')
    loads[0]['cache_bytes'] = cache_bytes
    with DefaultScope.overwrite_default_scope('vitdense'):
        dataset = DATASETS.build(ds_cfg)
    rng = random.Random(seed)
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(batch):
            dataset[rng.randrange(len(dataset))]
        times.append(time.perf_counter() - start)
    return statistics.median(times[-max(1, batches // 4):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', nargs='?', default=CONFIG)
    parser.add_argument('--batches', type=int, default=200)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--cache-bytes', type=int, default=1 << 30)
    parser.add_argument('--cfg-root', help="the dataset's data_root (default: the config's)")
    args = parser.parse_args()
    cfg = load_config(args.config)
    if args.cfg_root:
        cfg.train_dataloader.dataset.data_root = args.cfg_root
    off, on = [], []
    for r in range(args.rounds):
        off.append(time_batches(cfg, 0, args.batches, args.batch, seed=r))
        on.append(time_batches(cfg, args.cache_bytes, args.batches, args.batch, seed=r))
        print(f'round {r}: no cache {off[-1]:.4f} s, cache {on[-1]:.4f} s per {args.batch}',
              flush=True)
    ratio = statistics.median(off) / statistics.median(on)
    print(f'median s per batch: no cache {statistics.median(off):.4f}, cache '
          f'{statistics.median(on):.4f}; speed-up {ratio:.2f}x')


if __name__ == '__main__':
    main()
