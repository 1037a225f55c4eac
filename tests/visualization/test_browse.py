"""browse_dataset's image recovery: uint8 inputs as they are, normalised ones denormalised."""
import numpy as np
import pytest
import torch

from vitdense.visualization.browse import packed_image

MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)  # RGB, the preprocessor's


def test_uint8_inputs_come_back_unchanged():
    img = np.random.default_rng(0).integers(0, 256, (13, 21, 3), dtype=np.uint8)  # BGR
    inputs = torch.from_numpy(img.transpose(2, 0, 1).copy())  # (3, H, W)
    assert (packed_image(inputs) == img).all()


def test_normalised_inputs_are_denormalised_in_bgr_order():
    img = np.random.default_rng(1).integers(0, 256, (13, 21, 3), dtype=np.uint8)  # BGR
    bgr_mean, bgr_std = np.array(MEAN[::-1]), np.array(STD[::-1])
    normalised = (img - bgr_mean) / bgr_std  # a pipeline that normalised the BGR image
    inputs = torch.from_numpy(normalised.transpose(2, 0, 1).astype(np.float32))
    back = packed_image(inputs, MEAN, STD, bgr_to_rgb=True)
    assert back.dtype == np.uint8 and np.abs(back.astype(int) - img).max() == 0
    with pytest.raises(ValueError, match="preprocessor's mean and std"):
        packed_image(inputs)
