from .inference import inference_model, init_model
from .launch import (
                     build_runner,
                     enable_amp,
                     evaluate,
                     exit_without_teardown,
                     load_config,
                     prepare_test_cfg,
                     prepare_train_cfg,
                     train,
)

__all__ = ['build_runner', 'enable_amp', 'evaluate', 'exit_without_teardown', 'inference_model',
           'init_model', 'load_config', 'prepare_test_cfg', 'prepare_train_cfg', 'train']
