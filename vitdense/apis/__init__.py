from .inference import inference_model, init_model
from .launch import enable_amp, load_config, prepare_test_cfg, prepare_train_cfg, train

__all__ = ['enable_amp', 'inference_model', 'init_model', 'load_config', 'prepare_test_cfg',
           'prepare_train_cfg', 'train']
