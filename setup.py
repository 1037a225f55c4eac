from setuptools import find_packages, setup


def read_version() -> str:
    with open('vitdense/__init__.py') as f:
        for line in f:
            if line.startswith('__version__'):
                return line.split('=')[1].strip().strip("'")
    raise RuntimeError('vitdense/__init__.py has no __version__')


setup(
    name='vitdense',
    version=read_version(),
    description=('Dense prediction (detection, semantic segmentation) with plain Vision '
                 'Transformers'),
    packages=find_packages(include=['vitdense', 'vitdense.*']),
    python_requires='>=3.10',
    # torch is pinned by the Makefile's constraints file (the local CPU build); any torch>=2.1
    # works.
    install_requires=[
        'torch>=2.1',
        'mmengine==0.10.7',
        'mmcv-lite>=2.2.0',
        'opencv-python-headless',
        'numpy',
        'scipy',
        'pycocotools',
        'faster-coco-eval',
        'albumentations',
        'tqdm',  # progress bars (vitdense.utils.progress), shown on a terminal only
    ],
    # pytest-xdist: `make test` runs two workers;
    # tensorboard: tests/engine/test_tensorboard.py (TensorboardVisBackend; optional for users);
    # scikit-image: sample photographs for tests/tools/test_infer.py; ONNX export
    # (tools/deploy/export_onnx.py): onnxscript is torch.onnx's exporter, onnx and onnxruntime
    # write and check the graph. All wheels.
    extras_require={'test': ['pytest', 'pytest-xdist', 'transformers>=4.40', 'ruff', 'tensorboard',
                             'scikit-image', 'onnx', 'onnxruntime', 'onnxscript'],
                    'deploy': ['onnx', 'onnxruntime', 'onnxscript']},
)
