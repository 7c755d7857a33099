import pytest

import genzoo
from genzoo.models.autoregressive import MADE, MADEConfig


def test_list_models_and_patterns():
    assert {"fvsbn", "nade", "made"} <= set(genzoo.list_models())
    assert genzoo.list_models("made*") == ["made"]
    assert genzoo.list_models("*ade") == ["deepnade", "made", "nade"]
    assert genzoo.list_models("no-such-*") == []


def test_create_model_with_overrides():
    model = genzoo.create_model("made", hidden=16, num_masks=2, image_shape=(1, 4, 4))
    assert isinstance(model, MADE) and model.config == MADEConfig(hidden=16, num_masks=2, image_shape=(1, 4, 4))
    assert model.architecture == "made"


def test_unknown_model_names_closest():
    with pytest.raises(ValueError, match=r"unknown model 'mdae'.*Did you mean: made"):
        genzoo.create_model("mdae")


def test_unknown_config_key_is_named():
    with pytest.raises(ValueError, match="unknown config key 'hiden'.*valid keys: image_shape, hidden"):
        genzoo.create_model("made", hiden=3)


def test_unknown_pretrained_name():
    with pytest.raises(ValueError, match="unknown pretrained model 'made-binmnsit'"):
        genzoo.load_pretrained("made-binmnsit")


def test_list_pretrained_matches_the_packaged_checkpoint_folder():
    from genzoo.registry import CHECKPOINT_DIR

    assert genzoo.list_pretrained() == sorted(p.stem for p in CHECKPOINT_DIR.glob("*.safetensors"))
