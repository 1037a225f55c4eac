"""Import every vitdense module so that its classes register, and set the default scope."""
import datetime
import importlib

from mmengine import DefaultScope

PACKAGES = ('vitdense.models', 'vitdense.datasets', 'vitdense.transforms', 'vitdense.evaluation',
            'vitdense.engine', 'vitdense.visualization')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register all vitdense modules and apply the CPU/torch compat layer.

    Args:
        init_default_scope: make ``vitdense`` the current default scope, as mmdet does.
    """
    for name in PACKAGES:
        importlib.import_module(name)
    from vitdense.engine.compat import apply_compat
    apply_compat()
    if init_default_scope:
        current = DefaultScope.get_current_instance()
        if current is None or current.scope_name != 'vitdense':
            stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S-%f')
            DefaultScope.get_instance(f'vitdense-{stamp}', scope_name='vitdense')
