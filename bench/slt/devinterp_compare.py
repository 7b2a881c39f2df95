#!/usr/bin/env python3
"""LLC of one GPT-NeoX checkpoint with the reference library devinterp (2.x),
fed exactly the batches and hyperparameters of an `llcpress llc` run.

    python3 bench/slt/devinterp_compare.py --checkpoint DIR --data PREFIX \
        --batches batches.json --seq-len 128 --epsilon 1e-3 --gamma 100 --nbeta 5.77 \
        --chains 4 --draws 200 --threads 2 [--sampler sgld|rmsprop-sgld] [--out result.json]

batches.json comes from build/bench/slt/llc_batches (the same seed, range, batch
and step count as the llcpress run, with --shared-batches: devinterp gives
every chain the same batch sequence). The dataset handed to devinterp holds
those batches' sequences in step order and is read with shuffle=False, so
step t of every devinterp chain sees llcpress's batch t. Burn-in is 0 and
steps-between-draws 1 (devinterp's compute_llc averages every step).

Reports devinterp's own λ̂ (its L_init is the mean over the first
num_init_loss_batches batches of the feed, i.e. llcpress's SGLD batches 0..k-1)
and λ̂ recomputed with llcpress's L_init batches evaluated in torch, plus
timings: sample() end to end and the chain loop alone (steps/s).

Needs the pyenv python3 with torch, transformers and devinterp from PyPI
(pip install devinterp==2.0.1); never a runtime dependency of llcpress.
"""
import argparse
import json
import os
import resource
import tempfile
import time

import numpy as np
import torch


def read_megatron(prefix):
    """Megatron MMapIndexedDataset (REFERENCE.md §2): returns (sizes, pointers, tokens memmap)."""
    codes = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float32, 7: np.float64, 8: np.uint16}
    with open(prefix + ".idx", "rb") as f:
        magic = f.read(9)
        assert magic == b"MMIDIDX\x00\x00", "not a Megatron .idx"
        version = np.frombuffer(f.read(8), np.uint64)[0]
        assert version == 1
        dtype = codes[f.read(1)[0]]
        n = int(np.frombuffer(f.read(8), np.uint64)[0])
        _m = int(np.frombuffer(f.read(8), np.uint64)[0])
        sizes = np.frombuffer(f.read(4 * n), np.int32)
        pointers = np.frombuffer(f.read(8 * n), np.int64)
    tokens = np.memmap(prefix + ".bin", dtype=dtype, mode="r")
    return sizes, pointers, tokens, np.dtype(dtype).itemsize


def sequences(prefix, indices, seq_len):
    sizes, pointers, tokens, itemsize = read_megatron(prefix)
    rows = []
    for s in indices:
        start = int(pointers[s]) // itemsize
        assert sizes[s] >= seq_len + 1, f"sequence {s} shorter than seq_len + 1"
        rows.append(np.asarray(tokens[start : start + seq_len + 1], dtype=np.int64))
    return torch.tensor(np.stack(rows))


def mean_loss(model, input_ids):
    from devinterp.slt.lm_loss import compute_per_token_loss

    with torch.no_grad():
        return float(compute_per_token_loss(model, input_ids).mean())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--batches", required=True)
    p.add_argument("--seq-len", type=int, required=True)
    p.add_argument("--epsilon", type=float, required=True)
    p.add_argument("--gamma", type=float, required=True)
    p.add_argument("--nbeta", type=float, required=True)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--draws", type=int, default=100)
    p.add_argument("--sampler", default="sgld", choices=["sgld", "rmsprop-sgld"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=100)
    p.add_argument("--init-batches", type=int, default=0, help="devinterp num_init_loss_batches (0: as many as llcpress)")
    p.add_argument("--out", default="")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    from datasets import Dataset
    from devinterp.slt.llc import compute_llc
    from devinterp.slt.sampling import sample
    from transformers import GPTNeoXForCausalLM

    batches = json.load(open(a.batches))
    steps = batches["steps"][: a.draws]
    assert len(steps) == a.draws, "batches.json has fewer steps than --draws"
    batch_size = len(steps[0])
    order = [s for batch in steps for s in batch]
    model = GPTNeoXForCausalLM.from_pretrained(a.checkpoint, torch_dtype=torch.float32)
    model.train()  # no dropout in these configs; devinterp samples in train mode
    feed = sequences(a.data, order, a.seq_len)
    dataset = Dataset.from_dict({"input_ids": feed.tolist()}).with_format("torch")

    init_ids = [sequences(a.data, b, a.seq_len) for b in batches["init"]]
    init_loss_llcpress_batches = float(np.mean([mean_loss(model, ids) for ids in init_ids]))
    t0, c0 = time.perf_counter(), time.process_time()
    mean_loss(model, feed[:batch_size])
    forward_seconds, forward_cpu_seconds = time.perf_counter() - t0, time.process_time() - c0

    init_batches = a.init_batches or len(batches["init"])
    method = "sgmcmc_sgld" if a.sampler == "sgld" else "rmsprop_sgld"
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        samples = sample(
            model=model,
            dataset=dataset,
            observables={},
            lr=a.epsilon,
            n_beta=a.nbeta,
            num_chains=a.chains,
            num_draws=a.draws,
            batch_size=batch_size,
            num_burnin_steps=0,
            num_steps_bw_draws=1,
            num_init_loss_batches=init_batches,
            init_seed=a.seed,
            localization=a.gamma,
            sampling_method=method,
            shuffle=False,
            match_sampling_input_ids_across_chains=True,
            device="cpu",
            output_path=os.path.join(tmp, "samples.zarr"),
        )
        total_seconds, total_cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        llc = compute_llc(samples)
        per_chain = [float(v) for v in llc["llc_per_chain"].values]
        trace = llc["loss_trace"].values  # (chain, step)
        init_loss_devinterp = float(llc["init_loss"])
    same_init = [a.nbeta * (float(np.mean(trace[c])) - init_loss_llcpress_batches) for c in range(a.chains)]
    # devinterp evaluates its init loss once per chain (init_batches forwards each).
    loop_seconds = total_seconds - a.chains * init_batches * forward_seconds
    result = {
        "devinterp_version": __import__("devinterp").__version__ if hasattr(__import__("devinterp"), "__version__") else "2.x",
        "torch_version": torch.__version__,
        "threads": a.threads,
        "sampler": a.sampler,
        "nbeta": a.nbeta,
        "epsilon": a.epsilon,
        "gamma": a.gamma,
        "chains": a.chains,
        "draws": a.draws,
        "batch": batch_size,
        "seq_len": a.seq_len,
        "llc_devinterp_mean": float(np.mean(per_chain)),
        "llc_devinterp_std": float(np.std(per_chain, ddof=1)),
        "llc_devinterp_per_chain": per_chain,
        "init_loss_devinterp": init_loss_devinterp,
        "llc_same_init_mean": float(np.mean(same_init)),
        "llc_same_init_std": float(np.std(same_init, ddof=1)),
        "llc_same_init_per_chain": same_init,
        "init_loss_llcpress_batches_torch": init_loss_llcpress_batches,
        "mean_trace_loss_per_chain": [float(np.mean(trace[c])) for c in range(a.chains)],
        "sample_seconds": total_seconds,
        "forward_seconds": forward_seconds,
        "loop_seconds_estimate": loop_seconds,
        "steps_per_second": a.chains * a.draws / loop_seconds,
        "sample_cpu_seconds": total_cpu_seconds,
        "forward_cpu_seconds": forward_cpu_seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if a.out:
        open(a.out, "w").write(text + "\n")


if __name__ == "__main__":
    main()
