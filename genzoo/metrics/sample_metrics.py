"""Sample-quality metrics in a classifier's feature space, the MNIST counterparts of the Inception metrics:

- Frechet distance of Gaussians fitted to the features (FID; Heusel et al. 2017) and the kernel distance
  (KID; Binkowski et al. 2018), from torchmetrics;
- precision and recall of the feature manifolds (Kynkaanniemi et al. 2019, sec. 3, k = 3): the share of
  samples inside some real example's k-NN ball, and of real examples inside some sample's;
- the classifier's Inception Score (Salimans et al. 2016), from torchmetrics, and the class histogram.

The features are computed once (genzoo.metrics.features) and handed to torchmetrics through a pass-through
"feature network": its FID, KID and IS take a custom module, and one classifier pass serves all of them.
torchmetrics has no precision/recall; torch-fidelity's would need the images again as a uint8 dataset and a
registered extractor for the same numbers, so that one is written out here (about 20 lines).
"""
from __future__ import annotations

import warnings

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

METRIC_KWARGS = {"sync_on_compute": False}  # features are gathered before scoring; no collective in compute
# KID and IS warn that they keep every feature: here the features are in memory already, by design
warnings.filterwarnings("ignore", message=r"Metric `(Kernel Inception Distance|InceptionScore)` will save all")


class PrecomputedFeatures(nn.Module):
    """The "feature network" torchmetrics calls on its inputs: the inputs are the features already."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() != 2 or features.shape[1] != self.num_features:
            raise ValueError(f"expected features (N, {self.num_features}), got {tuple(features.shape)}")
        return features


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) of features (N, d), (M, d)."""
    fid = FrechetInceptionDistance(feature=PrecomputedFeatures(real.shape[1]), **METRIC_KWARGS).double()
    fid.update(real.double(), real=True)
    fid.update(fake.double(), real=False)
    return float(fid.compute())


def kernel_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """Unbiased MMD^2 with the cubic polynomial kernel over random subsets: (mean, std) over the subsets."""
    size = min(subset_size, real.shape[0], fake.shape[0])
    kid = KernelInceptionDistance(feature=PrecomputedFeatures(real.shape[1]), subsets=subsets, subset_size=size,
                                  **METRIC_KWARGS)
    kid.update(real.double(), real=True)
    kid.update(fake.double(), real=False)
    with torch.random.fork_rng(devices=[]):  # the subsets are drawn with the global RNG
        torch.manual_seed(seed)
        mean, std = kid.compute()
    return float(mean), float(std)


def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """exp E_x KL(p(y|x) || p(y)) from the classifier's logits (N, K): (mean, std) over ``splits`` parts."""
    score = InceptionScore(feature=PrecomputedFeatures(logits.shape[1]), splits=splits, **METRIC_KWARGS)
    score.update(logits.double())
    with torch.random.fork_rng(devices=[]):  # the split is a random permutation of the global RNG
        torch.manual_seed(seed)
        mean, std = score.compute()
    return float(mean), float(std)


def knn_radii(features: torch.Tensor, k: int, chunk: int = 2000) -> torch.Tensor:
    """(N,) distance of each row to its k-th nearest other row."""
    radii = []
    for start in range(0, features.shape[0], chunk):
        d = torch.cdist(features[start:start + chunk], features)  # (c, N); the row itself is at distance 0
        radii.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def covered(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 2000) -> torch.Tensor:
    """(P,) bool: whether each point lies in some ball (centre, radius)."""
    inside = []
    for start in range(0, points.shape[0], chunk):
        d = torch.cdist(points[start:start + chunk], centres)  # (c, C)
        inside.append((d <= radii).any(dim=1))
    return torch.cat(inside)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019, eq. 1-3) of features (N, d), (M, d)."""
    precision = covered(fake, real, knn_radii(real, k)).double().mean()
    recall = covered(real, fake, knn_radii(fake, k)).double().mean()
    return float(precision), float(recall)


def class_shares(logits: torch.Tensor) -> torch.Tensor:
    """(K,) share of the examples the classifier assigns to each class."""
    return torch.bincount(logits.argmax(1), minlength=logits.shape[1]).double() / logits.shape[0]


def score_features(real: tuple[torch.Tensor, torch.Tensor], fake: tuple[torch.Tensor, torch.Tensor],
                   present: float = 0.01) -> dict[str, float | list[float]]:
    """Every sample metric of ``fake`` against ``real``, each a (features, logits) pair. ``classes``: the
    classes holding at least ``present`` of the samples."""
    (real_h, _), (fake_h, fake_logits) = real, fake
    kid, kid_std = kernel_distance(real_h, fake_h)
    precision, recall = precision_recall(real_h, fake_h)
    inception, inception_std = inception_score(fake_logits)
    shares = class_shares(fake_logits)
    return {"fid": frechet_distance(real_h, fake_h), "kid": kid, "kid_std": kid_std, "precision": precision,
            "recall": recall, "inception_score": inception, "inception_score_std": inception_std,
            "classes": int((shares >= present).sum()), "min_class_share": float(shares.min()),
            "max_class_share": float(shares.max()), "class_shares": [round(float(s), 4) for s in shares]}
