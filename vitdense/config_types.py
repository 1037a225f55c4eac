"""Checks a config's keys against the class it builds, and its scalar values against the type
hints of that class.

An unknown key fails naming the key, the class and the keys it takes (the closest first).

``dict(type='ViT', drop_path_rate='0.1')`` would otherwise fail deep inside torch
(``linspace() received an invalid combination of arguments``). The check is deliberately
narrow, so that it never refuses a value the class accepts: only arguments annotated with
``int``, ``float``, ``bool`` or ``str`` (or a union of these with None) are checked, an int is a
valid float, and a bool a valid int.
"""
import difflib
import inspect
import numbers
import types
import typing
from typing import Any

_SCALARS = (int, float, bool, str)


def _allowed(hint: Any) -> tuple[type, ...] | None:
    """The scalar types ``hint`` allows, or None when it is not a plain scalar hint."""
    if hint in _SCALARS:
        return (hint, )
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if all(a in _SCALARS or a is type(None) for a in args):
            return args
    return None


def _fits(value: Any, allowed: tuple[type, ...]) -> bool:
    if value is None:
        return type(None) in allowed
    if isinstance(value, str):
        return str in allowed
    if isinstance(value, numbers.Integral):  # bool, int, numpy integers
        return any(t in allowed for t in (int, float, bool))
    if isinstance(value, numbers.Real):  # float, numpy floats
        return float in allowed
    return False


def check_config_types(cls: type, cfg: dict, where: str) -> None:
    """Raise ``TypeError`` naming ``where`` (the config's type name), the key, the value and the
    expected type when a scalar argument of ``cls.__init__`` has a value of another kind."""
    try:
        hints = typing.get_type_hints(cls.__init__)
        params = inspect.signature(cls.__init__).parameters
    except (NameError, TypeError, ValueError):  # unresolvable hints, builtins: nothing to check
        return
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    names = [n for n in params if n != 'self']
    for key, value in cfg.items():
        if key != 'type' and key not in params and not takes_any:
            close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ''
            raise TypeError(f'Config of {where}: unknown key {key!r}{hint}; {cls.__name__} '
                            f'takes {names}.')
        if key == 'type' or key not in params or key not in hints:
            continue
        allowed = _allowed(hints[key])
        if allowed is not None and not _fits(value, allowed):
            expected = ' or '.join('None' if t is type(None) else t.__name__ for t in allowed)
            raise TypeError(f"Config of {where}: {key}={value!r} is a {type(value).__name__}, but "
                            f'{cls.__name__} takes {expected} for {key!r}. Fix the value in the '
                            'config (e.g. 0.1, not "0.1").')
