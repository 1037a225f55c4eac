"""Dataset meta information shared by the datasets: palettes and class overrides."""
from typing import Optional

from mmengine.config import Config
from mmengine.dataset import BaseDataset


def make_palette(num: int) -> list[tuple[int, int, int]]:
    """``num`` distinct RGB colours, the PASCAL VOC colour map (bits of the index interleaved).

    Index 0 of the VOC map (black) is skipped, so every class gets a visible colour.
    """
    palette = []
    for index in range(1, num + 1):
        rgb, code = [0, 0, 0], index
        for bit in range(8):
            for channel in range(3):
                rgb[channel] |= ((code >> channel) & 1) << (7 - bit)
            code >>= 3
        palette.append((rgb[0], rgb[1], rgb[2]))
    return palette


def complete_metainfo(metainfo: dict, override: Optional[dict | Config]) -> dict:
    """Make a dataset's merged meta information consistent after a class override.

    Classes become a tuple; a palette that was not given for overridden classes is generated.
    An optional ``background_index`` (the label of a background class that is learned and
    scored like any other, as in Pascal VOC) is checked to be a class index; drawings leave its
    pixels uncoloured (:func:`vitdense.visualization.draw_segmentation`).

    Args:
        metainfo: the class default merged with ``override`` (mmengine's ``_load_metainfo``).
        override: what the config passed as ``metainfo``.

    Raises:
        ValueError: the config's palette does not have one colour per class, or
            ``background_index`` is not an index into the classes.
    """
    metainfo['classes'] = tuple(metainfo['classes'])
    num = len(metainfo['classes'])
    given = override is not None and 'palette' in override
    if len(metainfo.get('palette', ())) != num:
        if given:
            raise ValueError(f"metainfo has {num} classes but {len(metainfo['palette'])} palette "
                             f"colours; give one (R, G, B) per class or leave out 'palette'.")
        metainfo['palette'] = make_palette(num)
    background = metainfo.get('background_index')
    if background is not None and (isinstance(background, bool) or not isinstance(background, int)
                                   or not 0 <= background < num):
        raise ValueError(f'metainfo background_index={background!r} is not the index of one of '
                         f'the {num} classes; give an int in 0..{num - 1} (the label value of '
                         f'the background class) or leave it out.')
    return metainfo


class CompletedMetainfo(BaseDataset):
    """mmengine's ``BaseDataset`` whose meta information goes through
    :func:`complete_metainfo` (class tuple, palette for overridden classes, background index)."""

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict | Config] = None) -> dict:
        return complete_metainfo(super()._load_metainfo(metainfo), metainfo)
