"""The autoregressive family's results table: exact test NLL in nats beside the published figure."""
from __future__ import annotations

from genzoo.results import Report, ResultsTable, fmt

LIKELIHOOD_TABLE = ResultsTable(
    "image-likelihood",
    (("checkpoint", "l"), ("architecture", "l"), ("parameters", "r"), ("data", "l"), ("test NLL (nats)", "r"),
     ("valid NLL", "r"), ("paper", "l")),
    order=0)

# Published test NLL (nats) on static binarized MNIST, for the shipped checkpoints: the row of the same
# architecture. MADE (Germain et al. 2015, table 6): one hidden layer 88.40 (1 mask) / 88.04 (32 masks), two
# hidden layers 89.59 / 86.64; the 86.64 is the authors' two layers of 8000 units ("hidden_sizes [8000,8000]"
# in the command their README gives for the paper's best MNIST result), 6x the weights of one such layer.
PAPER = {
    "fvsbn-binmnist": (97.45, "Larochelle & Murray 2011"),
    "nade-binmnist": (88.86, "Larochelle & Murray 2011"),
    "made-binmnist": (88.40, "Germain et al. 2015, 1 hidden layer, 1 mask"),
    "made-ensemble-binmnist": (88.04, "Germain et al. 2015, 1 hidden layer, 32 masks"),
    "pixelcnn-binmnist": (81.30, "van den Oord et al. 2016a"),
    "deepnade-binmnist": (85.10, "Uria et al. 2014, EoNADE, 2 hidden layers, 128 orderings"),
}


# Peers' published figures where the paper gives none for this data (pytorch-generative's README, after its
# reproduce()'s 457 epochs).
PEER = {"gated-pixelcnn-binmnist": (81.50, "pytorch-generative's Gated PixelCNN")}


def likelihood_headline(report: Report) -> tuple[str, str]:
    """The front page's cells: test NLL beside the paper's (or a peer's) figure."""
    reference = PAPER.get(report.name) or PEER.get(report.name)
    return (f"NLL {fmt(report.test.get('nll'))} nats",
            f"{reference[0]:.2f} ({reference[1]})" if reference else "-")


def likelihood_row(report: Report) -> list[str]:
    paper = PAPER.get(report.name)
    model = report.model
    return [f"`{report.name}`", model.architecture, f"{model.num_parameters():,}", report.dataset.describe(),
            fmt(report.test.get("nll")), fmt(report.valid.get("nll")),
            f"{paper[0]:.2f} ({paper[1]})" if paper else ""]
