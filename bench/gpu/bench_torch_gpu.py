#!/usr/bin/env python3
"""The PyTorch side of the GPU benchmark (docs/gpu.md), run by scripts/device-check.sh.

transformers' GPTNeoXForCausalLM with random weights from a config (no
download) in PyTorch eager mode (no torch.compile), on the same GPU, batch and
sequence length as llcpress_bench_gpu, for Pythia-160m and -410m:
  - forward+backward tokens/s and model FLOP utilisation in fp32, tf32 and
    bf16 (bf16: torch.autocast over fp32 parameters, the same split of
    storage and compute precision as llcpress's bf16 mode);
  - one SGLD step (forward, backward, update) with devinterp's SGLD when it is
    importable, else a hand-written step of the same math (REFERENCE §3):
    w <- w - (eps/2)(n*beta*g + gamma(w - w*)) + sqrt(eps)*N(0, 1), one
    parameter tensor at a time as devinterp's optimizer loops.
FLOPs: the formula of neox_training_flops (src/model/gpt_neox.h), restated here.
"""
import argparse
import json
import math
import sys
import time

import torch

PEAK_TFLOPS = {"fp32": 67.0, "tf32": 494.0, "bf16": 989.0}  # H100/H200 SXM dense
MODELS = {"pythia-160m": (12, 768, 12), "pythia-410m": (24, 1024, 16)}
VOCAB = 50304


def training_flops(layers, hidden, inner, vocab, batch, seq_len):
    """neox_training_flops: 6 * (GEMM weights) * tokens + 12*L*H*B*T(T+1)/2 (causal attention)."""
    tokens = batch * seq_len
    linear = 6.0 * (layers * (4.0 * hidden * hidden + 2.0 * hidden * inner) + vocab * hidden) * tokens
    attention = 12.0 * layers * hidden * batch * seq_len * (seq_len + 1) / 2
    return linear + attention


def make_model(name):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM
    layers, hidden, heads = MODELS[name]
    # GPT-NeoX's defaults are Pythia's for the rest (rotary on 25% of each head, parallel residual, exact GELU,
    # untied unembedding); they are not passed, since their names changed across transformers versions.
    config = GPTNeoXConfig(vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=layers,
                           num_attention_heads=heads, intermediate_size=4 * hidden, max_position_embeddings=2048)
    torch.manual_seed(0)
    model = GPTNeoXForCausalLM(config).cuda().float()
    model.train()
    return model, config


def set_precision(precision):
    # "high" lets fp32 matmuls use TF32 tensor cores; "highest" keeps IEEE fp32 (bf16 runs under autocast).
    torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")


def loss_of(model, tokens, precision):
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
        return model(input_ids=tokens[:, :-1], labels=tokens[:, :-1]).loss


def time_steps(step, warmup, steps):
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(steps):
        step()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / 1e3 / steps


def sgld_step_factory(model, tokens, precision, epsilon=1e-4, nbeta=10.0, gamma=100.0):
    try:
        from devinterp.optim.sgld import SGLD  # noqa: F401
        optimizer = SGLD(model.parameters(), lr=epsilon, nbeta=nbeta, localization=gamma)
        implementation = "devinterp.optim.SGLD"

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss_of(model, tokens, precision).backward()
            optimizer.step()
    except Exception as error:  # devinterp is not on the GPU machine (no package installs there)
        implementation = f"hand-written PyTorch SGLD step, same math as devinterp's (devinterp unavailable: {error!r})"
        params = [p for p in model.parameters() if p.requires_grad]
        centers = [p.detach().clone() for p in params]
        noise_scale = math.sqrt(epsilon)

        def step():
            for p in params:
                p.grad = None
            loss_of(model, tokens, precision).backward()
            with torch.no_grad():
                for p, center in zip(params, centers):
                    drift = nbeta * p.grad + gamma * (p - center)
                    p.add_(drift, alpha=-epsilon / 2)
                    p.add_(torch.randn_like(p), alpha=noise_scale)
    return step, implementation


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="", help="write the results here")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="pythia-160m only, 2 timed steps")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_torch_gpu: no GPU visible to PyTorch")
    import transformers
    gpu = torch.cuda.get_device_name(0)
    known_peak = "H100" in gpu or "H200" in gpu
    steps = 2 if args.quick else args.steps
    report = {"gpu": gpu, "torch": torch.__version__, "transformers": transformers.__version__,
              "cuda": torch.version.cuda, "batch": args.batch, "seq_len": args.seq_len, "mode": "eager",
              "results": [], "sgld": []}
    models = ["pythia-160m"] if args.quick else list(MODELS)
    for name in models:
        model, config = make_model(name)
        report["attention_implementation"] = getattr(config, "_attn_implementation", None)
        report.setdefault("configs", {})[name] = {key: config.to_dict().get(key) for key in (
            "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size",
            "rotary_pct", "partial_rotary_factor", "use_parallel_residual", "hidden_act", "tie_word_embeddings")}
        tokens = torch.randint(0, VOCAB, (args.batch, args.seq_len + 1), device="cuda")
        flops = training_flops(config.num_hidden_layers, config.hidden_size, config.intermediate_size, VOCAB,
                               args.batch, args.seq_len)
        for precision in ("fp32", "tf32", "bf16"):
            set_precision(precision)

            def step():
                model.zero_grad(set_to_none=True)
                loss_of(model, tokens, precision).backward()
            torch.cuda.reset_peak_memory_stats()
            seconds = time_steps(step, 2, steps)
            entry = {"model": name, "precision": precision, "seconds_per_step": seconds,
                     "tokens_per_second": args.batch * args.seq_len / seconds, "model_flops_per_step": flops,
                     "tflops": flops / seconds / 1e12,
                     "mfu": flops / seconds / 1e12 / PEAK_TFLOPS[precision] if known_peak else None,
                     "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30}
            report["results"].append(entry)
            print(f"{name:12} {precision:5} fwd+bwd {1e3 * seconds:8.2f} ms  {entry['tokens_per_second']:9.0f} tok/s  "
                  f"{entry['tflops']:6.1f} TFLOP/s  MFU {entry['mfu']}", flush=True)
        set_precision("fp32")
        step, implementation = sgld_step_factory(model, tokens, "fp32")
        seconds = time_steps(step, 1, steps)
        report["sgld"].append({"model": name, "precision": "fp32", "seconds_per_step": seconds,
                               "implementation": implementation})
        print(f"{name:12} SGLD step (fp32) {1e3 * seconds:8.2f} ms  [{implementation[:40]}]", flush=True)
        del model
        torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)


if __name__ == "__main__":
    main()
