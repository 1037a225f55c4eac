"""Overrides that shrink a config's ViT to the 2-block ``'test'`` size, for tests that train or
run the demo configs (importable from every test directory: pyproject's pytest ``pythonpath``)."""
from vitdense.apis import load_config


def tiny_model_options(config: str) -> dict:
    """``cfg_options`` giving ``config``'s backbone the ``'test'`` size (2 blocks of width 32).

    A decoder that reads blocks by index (SETR-MLA's ``b1, b3, b5`` of the 6-block demo ViT)
    reads the two blocks there are instead.
    """
    options = {'model.backbone.arch': 'test'}
    head = load_config(config).model.get('decode_head') or {}
    if any(str(name).startswith('b') for name in head.get('in_features') or ()):
        options.update({'model.backbone.out_indices': [0, 1],
                        'model.decode_head.in_features': ['b0', 'b1']})
    return options


def as_cli(options: dict) -> list[str]:
    """The same overrides as ``--cfg-options`` arguments."""
    def text(value):
        return f"[{','.join(map(str, value))}]" if isinstance(value, list) else str(value)
    return [f'{key}={text(value)}' for key, value in options.items()]
