# What every training shares, whatever its schedule. Logging is by iteration (the schedule
# bases set the logger and checkpoint intervals in default_hooks; mmengine adds the timer,
# param_scheduler and sampler_seed hooks); TrainTimeHook logs the minutes spent training as
# train_minutes with each validation, for learning curves against time. NonFiniteHook stops a
# run at the first NaN/inf loss term or gradient (--cfg-options custom_hooks.1.policy=skip skips
# and counts such steps instead); 'CheckpointHook' resolves to vitdense's AtomicCheckpointHook,
# whose saves survive a kill (docs/reliability.md). SkippedFilesHook counts and summarises the
# images that LoadImageFromFile(on_error='skip') skips (none by default: a bad file stops the run).
# CheckpointFitHook refuses a load_from / --resume checkpoint of which no weight fits the model
# (tools/test.py: one that leaves any weight out or changes its shape). RngStateHook keeps the
# random generators' state in checkpoints, so that --resume draws what the first run would have.
# EvalProgressHook draws a bar over validation / test batches when stderr is a terminal (never in
# logs).
default_scope = 'vitdense'

custom_hooks = [dict(type='TrainTimeHook'), dict(type='NonFiniteHook', policy='raise'),
                dict(type='SkippedFilesHook'), dict(type='CheckpointFitHook', require='any'),
                dict(type='RngStateHook'), dict(type='EvalProgressHook')]
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
