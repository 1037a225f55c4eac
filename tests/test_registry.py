import pytest

from vitdense.registry import MODELS, POS_ENCODINGS
from vitdense.utils import register_all_modules

register_all_modules()


def test_unknown_type_names_registry_closest_and_custom_imports():
    with pytest.raises(KeyError) as err:
        MODELS.build(dict(type='VIT', arch='test'))
    msg = str(err.value)
    assert "'models' registry" in msg and "'ViT'" in msg and 'custom_imports' in msg


def test_unknown_pos_encoding_is_reported_from_its_own_registry():
    with pytest.raises(KeyError, match="'pos_encodings' registry.*LearnedAbsolutePE"):
        POS_ENCODINGS.build(dict(type='LearnedAbsolutPE'))


def test_nested_typo_inside_a_backbone_config_is_reported():
    with pytest.raises(KeyError, match='LearnedAbsolutePE'):
        MODELS.build(dict(type='ViT', arch='test', pos_embed=dict(type='LearnedAbsolute')))


def test_misspelled_key_names_class_and_key():
    with pytest.raises(TypeError, match="ViT.*out_indice"):
        MODELS.build(dict(type='ViT', arch='test', out_indice=(1,)))


def test_contains_does_not_raise():
    assert 'ViT' in MODELS
    assert 'NoSuchThing' not in MODELS


def test_mmengine_root_resolves_our_names_under_default_scope():
    from mmengine.registry import MODELS as ROOT
    assert ROOT.build(dict(type='ViT', arch='test')).embed_dim == 32
