#!/usr/bin/env python3
"""PyTorch eager reference for bench_model.cpp: the same GPT-NeoX shape, batch,
tokens-per-step and thread count, fp32, transformers' GPTNeoXForCausalLM with
eager attention, loss = mean next-token cross-entropy over all B·T logits.
Prints JSON with the same keys as `llcpress_bench_model --json`.

Use PyTorch from the Python package index (MKL/oneDNN), not Debian's
python3-torch (reference BLAS, REFERENCE §7)."""
import argparse
import json
import resource
import time

import torch
import transformers
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

SHAPES = {
    "pythia14m": dict(hidden_size=128, num_hidden_layers=6, num_attention_heads=4, intermediate_size=512,
                      vocab_size=50304),
    "demo": dict(hidden_size=96, num_hidden_layers=2, num_attention_heads=4, intermediate_size=384, vocab_size=512),
    "demo-322k": dict(hidden_size=96, num_hidden_layers=2, num_attention_heads=4, intermediate_size=384,
                      vocab_size=512),
    "demo-166k": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
                      vocab_size=512),
    "demo-58k": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                     vocab_size=512),
}


def training_flops(c, batch, seq_len):
    """Same count as neox_training_flops() in src/model/gpt_neox.cpp."""
    h, i, v, l = c["hidden_size"], c["intermediate_size"], c["vocab_size"], c["num_hidden_layers"]
    matmul_weights = l * (4 * h * h + 2 * h * i) + v * h
    pairs = batch * seq_len * (seq_len + 1) / 2
    return 6 * matmul_weights * batch * seq_len + 12 * l * h * pairs


def timings(repeats, body):
    """(best, median, best process CPU time) of `repeats` calls after a warm-up (see bench_model.cpp)."""
    body()
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        body()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    times.sort()
    return times[0], times[len(times) // 2], min(cpu_times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="pythia14m", choices=sorted(SHAPES))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shape = SHAPES[args.model]
    config = GPTNeoXConfig(**shape, rotary_pct=0.25, max_position_embeddings=2048, attention_dropout=0.0,
                           hidden_dropout=0.0, tie_word_embeddings=False)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = GPTNeoXForCausalLM(config).float()
    model.config._attn_implementation = "eager"
    model.train()  # dropout probabilities are 0: train() only keeps autograd semantics identical to training
    tokens = torch.randint(0, shape["vocab_size"], (args.batch, args.seq_len + 1))
    inputs, targets = tokens[:, :-1], tokens[:, 1:].reshape(-1)

    def forward():
        with torch.no_grad():
            logits = model(input_ids=inputs).logits
            return torch.nn.functional.cross_entropy(logits.reshape(-1, shape["vocab_size"]), targets)

    def step():
        model.zero_grad(set_to_none=False)
        logits = model(input_ids=inputs).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, shape["vocab_size"]), targets)
        loss.backward()
        return loss

    forward_seconds, forward_median, forward_cpu = timings(args.iterations, forward)
    step_seconds, step_median, step_cpu = timings(args.iterations, step)
    flops = training_flops(shape, args.batch, args.seq_len)
    tokens_per_step = args.batch * args.seq_len
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "implementation": f"PyTorch {torch.__version__} eager (transformers {transformers.__version__}), "
                          f"{torch.backends.mkldnn.is_available() and 'oneDNN' or 'no oneDNN'}, MKL "
                          f"{torch.backends.mkl.is_available()}",
        "model": args.model, **shape, "parameters": params, "batch": args.batch, "seq_len": args.seq_len,
        "threads": torch.get_num_threads(),
        "forward_seconds": forward_seconds, "forward_tokens_per_second": tokens_per_step / forward_seconds,
        "forward_gflops": flops / 3 / forward_seconds / 1e9,
        "step_seconds": step_seconds, "step_tokens_per_second": tokens_per_step / step_seconds,
        "step_gflops": flops / step_seconds / 1e9, "step_flops": flops,
        "forward_seconds_median": forward_median, "step_seconds_median": step_median,
        "forward_cpu_seconds": forward_cpu, "step_cpu_seconds": step_cpu,
        "timing": "best of iterations (median in *_median)",
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_model_mib": rss_before,
    }, indent=2))


if __name__ == "__main__":
    main()
