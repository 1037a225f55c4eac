"""Global average pooling, LayerNorm and a linear classifier over one feature map."""
import torch
from torch import nn

from vitdense.models.losses import CrossEntropyLoss
from vitdense.registry import MODELS
from vitdense.structures import ClsDataSample, ShapeSpec


@MODELS.register_module()
class LinearClsHead(nn.Module):
    """Average the tokens of one map, normalise, and classify with one linear layer.

    The ViT classifier of Dosovitskiy et al. 2020 ("An Image is Worth 16x16 Words", arXiv
    2010.11929) with global average pooling instead of a class token and a LayerNorm after the
    pooling, as in MAE fine-tuning (He et al. 2021, arXiv 2111.06377). Padded positions of the
    input, if any, are averaged too: classify batches of one size (e.g. resized crops).

    Args:
        input_shape: the neck's (or backbone's) ``output_shape()``.
        num_classes: number of classes K.
        in_feature: name of the map to classify (``p4``: the ViT's stride-16 grid).
        norm: LayerNorm over channels after pooling.
        dropout: dropout before the classifier.
        label_smoothing: label smoothing of the cross-entropy loss.
        loss_weight: weight of the cross-entropy loss.
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], num_classes: int,
                 in_feature: str = 'p4', norm: bool = True, dropout: float = 0.0,
                 label_smoothing: float = 0.0, loss_weight: float = 1.0):
        super().__init__()
        if in_feature not in input_shape:
            raise KeyError(f"LinearClsHead in_feature '{in_feature}' is not among the inputs "
                           f'{sorted(input_shape)}; set in_feature to one of them.')
        if num_classes < 2:
            raise ValueError(f'LinearClsHead num_classes must be >= 2, got {num_classes}.')
        channels = input_shape[in_feature].channels
        self.in_feature = in_feature
        self.num_classes = num_classes
        self.norm = nn.LayerNorm(channels) if norm else nn.Identity()
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc = nn.Linear(channels, num_classes)
        self.loss_ce = CrossEntropyLoss(loss_weight=loss_weight, label_smoothing=label_smoothing,
                                        ignore_index=-100)
        nn.init.trunc_normal_(self.fc.weight, std=0.02)
        nn.init.zeros_(self.fc.bias)

    def pre_logits(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """feats[in_feature]: (B, C, H, W) -> pooled, normalised features (B, C)."""
        return self.norm(feats[self.in_feature].mean(dim=(2, 3)))  # (B, C)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """feats -> logits (B, K)."""
        return self.fc(self.dropout(self.pre_logits(feats)))

    def loss(self, feats: dict[str, torch.Tensor],
             data_samples: list[ClsDataSample]) -> dict[str, torch.Tensor]:
        """Cross-entropy of the logits against each sample's single ``gt_label``."""
        logits = self.forward(feats)
        target = torch.cat([s.gt_label for s in data_samples]).to(logits.device)  # (B,)
        if target.shape[0] != logits.shape[0]:
            raise ValueError(f'LinearClsHead takes one gt_label per sample; got '
                             f'{target.shape[0]} labels for {logits.shape[0]} samples.')
        return dict(loss_cls=self.loss_ce(logits.float(), target))

    def predict(self, feats: dict[str, torch.Tensor],
                data_samples: list[ClsDataSample]) -> list[ClsDataSample]:
        """Set ``pred_score`` (softmax, (K,)) and ``pred_label`` ((1,)) of each sample."""
        scores = self.forward(feats).float().softmax(dim=1)  # (B, K)
        labels = scores.argmax(dim=1)  # (B,)
        for sample, score, label in zip(data_samples, scores, labels):
            sample.set_pred_score(score).set_pred_label(label)
        return data_samples
