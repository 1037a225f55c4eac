"""Registries of vitdense, children of mmengine's roots (scope ``vitdense``).

A name that is not registered fails with the registry's name, the closest registered names and
a hint about ``custom_imports`` (the way user plugins are loaded), instead of mmengine's generic
``KeyError``.
"""
import difflib
import inspect
from typing import Any, Optional, Type

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

from vitdense.config_types import check_config_types


class VitdenseRegistry(Registry):
    """A Registry whose lookups of unknown names raise a helpful ``KeyError``."""

    def known_names(self) -> list[str]:
        """Names visible from this registry: its own and its ancestors'."""
        self.import_from_location()
        names, node = set(), self
        while node is not None:
            names.update(node._module_dict)
            node = node.parent
        return sorted(names)

    def get(self, key: str) -> Optional[Type]:
        obj = super().get(key)
        if obj is None and isinstance(key, str):
            raise KeyError(self.unknown_message(key))
        return obj

    def build(self, cfg: dict, *args, **kwargs) -> Any:
        """mmengine's build, after checking the config's scalar values against the class's type
        hints (:func:`vitdense.config_types.check_config_types`)."""
        if isinstance(cfg, dict) and isinstance(cfg.get('type'), str) and '.' not in cfg['type']:
            obj_cls = self.get(cfg['type'])
            if inspect.isclass(obj_cls):
                check_config_types(obj_cls, cfg, f"type='{cfg['type']}'")
        return super().build(cfg, *args, **kwargs)

    def __contains__(self, key: str) -> bool:
        try:
            return super().get(key) is not None
        except Exception:
            return False

    def unknown_message(self, key: str) -> str:
        close = difflib.get_close_matches(key.split('.')[-1], self.known_names(), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ''
        return (f"'{key}' is not registered in the '{self.name}' registry (scope "
                f"'{self.scope}').{hint} If '{key}' is defined in your own file, register it "
                f"with @{self.name.upper()}.register_module() and add "
                f"custom_imports=dict(imports=['your_module'], allow_failed_imports=False) to "
                f"the config.")


def _child(name: str, parent: Registry, *locations: str) -> VitdenseRegistry:
    return VitdenseRegistry(name, parent=parent, scope='vitdense', locations=list(locations))


MODELS = _child('models', MMENGINE_MODELS, 'vitdense.models')
DATASETS = _child('datasets', MMENGINE_DATASETS, 'vitdense.datasets')
TRANSFORMS = _child('transforms', MMENGINE_TRANSFORMS, 'vitdense.transforms')
METRICS = _child('metrics', MMENGINE_METRICS, 'vitdense.evaluation')
HOOKS = _child('hooks', MMENGINE_HOOKS, 'vitdense.engine', 'vitdense.visualization')
OPTIM_WRAPPERS = _child('optim_wrappers', MMENGINE_OPTIM_WRAPPERS, 'vitdense.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optim_wrapper_constructors',
                                    MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, 'vitdense.engine')
TASK_UTILS = _child('task_utils', MMENGINE_TASK_UTILS, 'vitdense.models')
VISUALIZERS = _child('visualizers', MMENGINE_VISUALIZERS, 'vitdense.visualization')
# Children that hold nothing of ours yet: they let mmengine resolve its own classes under
# default_scope='vitdense' without warning that the scope is missing from the tree.
RUNNERS = _child('runners', MMENGINE_RUNNERS, 'vitdense.engine')
LOOPS = _child('loops', MMENGINE_LOOPS, 'vitdense.engine')
DATA_SAMPLERS = _child('data_samplers', MMENGINE_DATA_SAMPLERS, 'vitdense.datasets')
OPTIMIZERS = _child('optimizers', MMENGINE_OPTIMIZERS, 'vitdense.engine')
PARAM_SCHEDULERS = _child('param_schedulers', MMENGINE_PARAM_SCHEDULERS, 'vitdense.engine')
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR, 'vitdense.evaluation')
VISBACKENDS = _child('vis_backends', MMENGINE_VISBACKENDS, 'vitdense.visualization')
LOG_PROCESSORS = _child('log_processors', MMENGINE_LOG_PROCESSORS, 'vitdense.engine')
MODEL_WRAPPERS = _child('model_wrappers', MMENGINE_MODEL_WRAPPERS, 'vitdense.engine')
WEIGHT_INITIALIZERS = _child('weight_initializers', MMENGINE_WEIGHT_INITIALIZERS,
                             'vitdense.models')
FUNCTIONS = _child('functions', MMENGINE_FUNCTIONS, 'vitdense.datasets')
# Standalone (not a child of MODELS): a second child of mmengine's MODELS or a grandchild would not
# resolve under default_scope='vitdense'.
POS_ENCODINGS = VitdenseRegistry('pos_encodings', scope='vitdense',
                                 locations=['vitdense.models.pos_encodings'])
