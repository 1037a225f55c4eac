from .launch import enable_amp, load_config, prepare_test_cfg, prepare_train_cfg

__all__ = ['enable_amp', 'load_config', 'prepare_test_cfg', 'prepare_train_cfg']
