#!/usr/bin/env python3
"""Checks a `llcpress make-suite` directory against Hugging Face transformers.

For every checkpoint DIR/<model>/step<k>, loads it with
GPTNeoXForCausalLM.from_pretrained (fp32, eager attention), computes the mean
next-token loss over the first N held-out sequences (inputs tokens[0:T],
targets tokens[1:T+1], as llcpress reads them) and compares it with the
held-out loss llcpress recorded in suite.json on the same tokens.

Needs torch + transformers (pyenv python3); not part of CI.
usage: compare_suite_with_transformers.py DIR [--steps 0,400] [--threads 2]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from transformers import GPTNeoXForCausalLM
from transformers.utils import logging as transformers_logging


def read_megatron(prefix):
    """Returns the sequences of PREFIX.{idx,bin} (Megatron MMapIndexedDataset)."""
    with open(prefix + ".idx", "rb") as f:
        index = f.read()
    assert index[:9] == b"MMIDIDX\x00\x00", "not a Megatron index"
    version = int.from_bytes(index[9:17], "little")
    dtype_code = index[17]
    count = int.from_bytes(index[18:26], "little")
    assert version == 1 and dtype_code == 8, "expected version 1, u16 tokens"
    offset = 34
    sizes = np.frombuffer(index, dtype="<i4", count=count, offset=offset)
    pointers = np.frombuffer(index, dtype="<i8", count=count, offset=offset + 4 * count)
    data = np.fromfile(prefix + ".bin", dtype="<u2")
    return [data[p // 2 : p // 2 + s].astype(np.int64) for p, s in zip(pointers, sizes)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("suite")
    parser.add_argument("--steps", default="", help="comma-separated steps (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformers_logging.disable_progress_bar()
    with open(os.path.join(args.suite, "suite.json")) as f:
        suite = json.load(f)
    seq_len = suite["seq_len"]
    count = suite["data"]["evaluated_heldout_sequences"]
    sequences = read_megatron(os.path.join(args.suite, suite["data"]["heldout"]))[:count]
    tokens = torch.tensor(np.stack([s[: seq_len + 1] for s in sequences]))
    wanted = {int(s) for s in args.steps.split(",") if s}
    worst = 0.0
    print(f"{'checkpoint':<24} {'llcpress':>10} {'transformers':>13} {'rel. diff':>10}")
    for model in suite["models"]:
        for record in model["checkpoints"]:
            if wanted and record["step"] not in wanted:
                continue
            path = os.path.join(args.suite, record["directory"])
            hf = GPTNeoXForCausalLM.from_pretrained(path, torch_dtype=torch.float32, attn_implementation="eager")
            hf.eval()
            with torch.no_grad():
                losses = []
                for first in range(0, count, 16):
                    batch = tokens[first : first + 16]
                    logits = hf(input_ids=batch[:, :seq_len]).logits
                    loss = torch.nn.functional.cross_entropy(
                        logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1), reduction="sum")
                    losses.append(loss.item())
            reference = sum(losses) / (count * seq_len)
            ours = record["heldout_loss"]
            relative = abs(ours - reference) / abs(reference)
            worst = max(worst, relative)
            print(f"{record['directory']:<24} {ours:>10.6f} {reference:>13.6f} {relative:>10.2e}")
    print(f"largest relative difference: {worst:.2e}")
    # fp32 forward passes summed over ~16k tokens in different orders: 1e-5
    # relative is far above their rounding noise (~1e-7) and far below any
    # modelling mistake (a wrong rotary or GELU moves the loss by > 1e-3).
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
