"""Quantizer step time, genzoo vs vector-quantize-pytorch (lucidrains), side by side in one run.

    python -m bench.quantizers [--repeats 20]

One training step = forward + backward (EMA codebook update included) on 8192 vectors of dim 64 with 1024
codes (FSQ: levels [8, 5, 5, 5] on 8192 vectors of dim 4). The same initial codebook and inputs go to both
packages; the table also reports how many of the 8192 chosen codes are the exact nearest ones (float64
brute force: near-ties are resolved differently by the two float32 distance formulas) and the largest input
gradient difference on the vectors where both chose the same code.
"The one matmul" is the (8192 x 64) @ (64 x 1024) distance product alone: the floor of a VQ step.
Needs the bench extra: pip install -e ".[bench]".
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.common import markdown_table, print_table
from genzoo.doc_tables import write_block
from genzoo.quantizers import FSQ, VectorQuantizer

MARKER = "quantizer-bench"  # the table lies between this marker's lines in README.md or a docs/ page

N, DIM, CODES, LEVELS = 8192, 64, 1024, (8, 5, 5, 5)


def step_time(step, repeats: int) -> float:
    """Median seconds of ``step()`` over ``repeats`` runs after two warm-up runs."""
    return paired_times(step, step, repeats)[0]


def paired_times(ours, theirs, repeats: int) -> tuple[float, float]:
    """Median seconds of ``ours()`` and ``theirs()``, run alternately so that both see the same machine load."""
    for _ in range(2):
        ours(), theirs()
    times = ([], [])
    for _ in range(repeats):
        for fn, out in ((ours, times[0]), (theirs, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def vq_pair(estimator: str):
    from vector_quantize_pytorch import VectorQuantize

    theirs = VectorQuantize(dim=DIM, codebook_size=CODES, decay=0.99, commitment_weight=0.25,
                            rotation_trick=estimator == "rotation", straight_through=False, kmeans_init=False,
                            threshold_ema_dead_code=0).train()
    ours = VectorQuantizer(DIM, CODES, estimator=estimator, ema_decay=0.99, beta=0.25).train()
    with torch.no_grad():  # the same codebook (and EMA statistics) in both
        start = theirs._codebook.embed[0].clone()
        ours.codebook.copy_(start)
        ours.embed_sum.copy_(start)
        ours.cluster_size.fill_(1.0)
        theirs._codebook.embed_avg.copy_(start[None])
        theirs._codebook.cluster_size.fill_(1.0)
    return ours, theirs


def run_ours(ours, x, weight):
    x = x.detach().requires_grad_(True)
    q, indices, info = ours(x)
    ((q * weight).sum() + info["loss"]).backward()
    return indices, x.grad


def run_theirs(theirs, x, weight):
    x = x.detach().requires_grad_(True)
    q, indices, loss = theirs(x[None])
    ((q[0] * weight).sum() + loss.sum()).backward()
    return indices[0], x.grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--write-readme", action="store_true", help="also write the table into its page")
    args = parser.parse_args()
    try:
        import vector_quantize_pytorch  # noqa: F401
    except ImportError as exc:
        raise SystemExit('bench.quantizers needs vector-quantize-pytorch: pip install -e ".[bench]"') from exc
    torch.manual_seed(0)
    x, weight = torch.randn(N, DIM), torch.randn(N, DIM)
    rows = []
    codebook = torch.randn(CODES, DIM)
    matmul = step_time(lambda: torch.addmm(codebook.pow(2).sum(1), x, codebook.t(), alpha=-2.0).argmin(1),
                       args.repeats)
    rows.append(["the one matmul (+argmin)", matmul * 1e3, "", "", "", "", ""])
    for estimator in ("ste", "rotation"):
        ours, theirs = vq_pair(estimator)
        # agreement on the first step, from the identical state
        exact = torch.cdist(x.double(), ours.codebook.detach().double()).argmin(1)  # float64 reference
        i_ours, g_ours = run_ours(ours, x, weight)
        i_theirs, g_theirs = run_theirs(theirs, x, weight)
        same = i_ours == i_theirs
        codes = f"{int((i_ours == exact).sum())} / {int((i_theirs == exact).sum())}"
        grad_diff = (g_ours - g_theirs)[same].abs().max().item()
        t_ours, t_theirs = paired_times(lambda: run_ours(ours, x, weight), lambda: run_theirs(theirs, x, weight),
                                        args.repeats)
        rows.append([f"VQ {estimator}, EMA", t_ours * 1e3, t_theirs * 1e3, t_ours / t_theirs, "<= 0.5",
                     codes, f"{grad_diff:.1e}"])
    from vector_quantize_pytorch import FSQ as TheirFSQ

    z = 2 * torch.randn(N, len(LEVELS))
    ours, theirs = FSQ(LEVELS), TheirFSQ(levels=list(LEVELS))
    i_ours, g_ours = run_fsq(ours, z, weight[:, :4], mine=True)
    i_theirs, g_theirs = run_fsq(theirs, z, weight[:, :4], mine=False)
    same = (ours.indices_to_codes(i_ours) == theirs.indices_to_codes(i_theirs)).all(1)  # index orders may differ
    agree = f"{int(same.sum())} same"
    t_ours, t_theirs = paired_times(lambda: run_fsq(ours, z, weight[:, :4], mine=True),
                                    lambda: run_fsq(theirs, z, weight[:, :4], mine=False), args.repeats)
    rows.append([f"FSQ {list(LEVELS)}", t_ours * 1e3, t_theirs * 1e3, t_ours / t_theirs, "<= 1.0", agree,
                 f"{(g_ours - g_theirs)[same].abs().max().item():.1e}"])
    headers = ["step (forward + backward)", "genzoo ms", "vector-quantize-pytorch ms", "ratio", "goal",
               "float64-exact codes (ours / theirs)", "max abs grad diff where codes agree"]
    caption = (f"{N} vectors, dim {DIM}, {CODES} codes; torch threads = {torch.get_num_threads()}; median of "
               f"{args.repeats}, the two packages timed alternately (`python -m bench.quantizers`)")
    print(caption)
    print_table(headers, rows)
    if args.write_readme:
        write_block(MARKER, caption + "\n\n" + markdown_table(headers, rows))


def run_fsq(fsq, z, weight, mine: bool):
    z = z.detach().requires_grad_(True)
    if mine:
        codes, indices, _ = fsq(z)
    else:
        codes, indices = fsq(z[None])
        codes, indices = codes[0], indices[0]
    (codes * weight).sum().backward()
    return indices, z.grad


if __name__ == "__main__":
    main()
