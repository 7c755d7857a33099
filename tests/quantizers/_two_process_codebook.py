"""Run by tests/quantizers/test_vector_quantizer.py under torchrun: a VectorQuantizer trained on different data
on each rank; writes every rank's codebook and statistics."""
import sys

import torch
import torch.distributed as dist

from genzoo.quantizers import VectorQuantizer

if __name__ == "__main__":
    out_path, restart = sys.argv[1], sys.argv[2] == "restart"
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(1234)  # the same initial codebook on every rank (as DDP's first broadcast makes it)
    vq = VectorQuantizer(4, 16, estimator="rotation", dead_code_threshold=0.9 if restart else 0.0,
                         kmeans_init=restart).train()
    data = torch.load(sys.argv[3], weights_only=True)  # (steps, ranks, N, 4)
    torch.manual_seed(rank)  # rank-local randomness must not leak into the codebook
    for step in range(data.shape[0]):
        vq(data[step, rank])
    state = torch.stack([vq.codebook.detach(), vq.embed_sum])
    gathered = [torch.empty_like(state) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, state)
    if rank == 0:
        torch.save({"states": torch.stack(gathered), "cluster_size": vq.cluster_size}, out_path)
    dist.destroy_process_group()
