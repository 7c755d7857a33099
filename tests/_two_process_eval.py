"""Run by tests/test_training.py under `accelerate launch --num_processes 2`: valid NLL of a checkpoint."""
import json
import sys

import torch
from accelerate import Accelerator

from genzoo import load_pretrained
from genzoo.data import ImageSplit
from genzoo.evaluation import evaluate

if __name__ == "__main__":
    checkpoint, data_path, out_path = sys.argv[1:4]
    accelerator = Accelerator(cpu=True)
    split = ImageSplit(torch.load(data_path, weights_only=True), scale=1.0)
    nll = evaluate(load_pretrained(checkpoint), split, accelerator, batch_size=64)["nll"]
    if accelerator.is_main_process:
        with open(out_path, "w") as fh:
            json.dump({"nll": nll, "processes": accelerator.num_processes}, fh)
    # Leave the gloo group before the interpreter exits: a rank that exits with it alive can abort in gloo's
    # threads ("terminate called without an active exception", seen once in CI).
    accelerator.wait_for_everyone()
    accelerator.end_training()
