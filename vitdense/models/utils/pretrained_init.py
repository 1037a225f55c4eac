"""mmengine's ``Pretrained`` weight initialisation, also given a work dir: its last checkpoint."""
import os.path as osp

from mmengine.model.weight_init import PretrainedInit as MMEnginePretrainedInit

from vitdense.registry import WEIGHT_INITIALIZERS
from vitdense.utils.work_dir import is_work_dir_path, last_checkpoint


@WEIGHT_INITIALIZERS.register_module(name='Pretrained')
class PretrainedInit(MMEnginePretrainedInit):
    """Load ``checkpoint`` (optionally its ``prefix`` part) into a module, by key names.

    As mmengine's ``Pretrained`` (which it replaces under the ``vitdense`` scope), and
    ``checkpoint`` may also be the work dir of the training that wrote it: its last checkpoint is
    loaded, as the ViT backbone's ``init_cfg`` does. Loading is not strict: keys the module lacks,
    keys the checkpoint lacks and tensors of another shape are skipped and logged. So a model can
    start from every part it shares with another model, e.g. the demo segmentor from the demo
    detector's backbone *and* the pyramid levels their necks share::

        model = dict(init_cfg=dict(type='Pretrained',
                                   checkpoint='work_dirs/fcos_vit-t-hybrid_1xb4-demo_shapes'))

    A model-level ``init_cfg`` is applied after its parts' own initialisation (mmengine's order),
    so it overrides a backbone's ``init_cfg`` for the keys it holds.
    """

    def __call__(self, module) -> None:
        path = self.checkpoint
        if is_work_dir_path(path):
            path = last_checkpoint(path)  # names the config to train when there is none
        elif not osp.isfile(path):
            raise FileNotFoundError(f"Pretrained checkpoint '{path}' (init_cfg.checkpoint of "
                                    f'{type(module).__name__}) does not exist: give a checkpoint '
                                    'file or the work dir of the training that wrote it.')
        self.checkpoint = path
        super().__call__(module)
