#!/usr/bin/env python3
"""Runs llcpress_bench_model and bench_torch.py on the same model, batch and
threads (each in its own process, so peak RSS is per implementation) and prints
a side-by-side table. See bench/README.md.

  python3 bench/model/compare.py --binary build/bin/llcpress_bench_model \
      --model pythia14m --batch 4 --seq-len 512 --threads 2
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(command):
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output[output.index("{"):])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="build/bin/llcpress_bench_model")
    parser.add_argument("--model", default="pythia14m")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--ops", action="store_true", help="include llcpress per-op timings")
    parser.add_argument("--json", help="also write both results to this file")
    args = parser.parse_args()
    common = ["--model", args.model, "--batch", str(args.batch), "--seq-len", str(args.seq_len), "--threads",
              str(args.threads), "--iterations", str(args.iterations)]
    ours = run_json([args.binary, *common, "--json"] + (["--ops"] if args.ops else []))
    torch = run_json([sys.executable, os.path.join(HERE, "bench_torch.py"), *common])
    rows = [("forward tokens/s", "forward_tokens_per_second", "{:,.0f}"),
            ("forward GFLOP/s", "forward_gflops", "{:.1f}"),
            ("fwd+bwd tokens/s", "step_tokens_per_second", "{:,.0f}"),
            ("fwd+bwd GFLOP/s", "step_gflops", "{:.1f}"),
            ("fwd+bwd ms/step", "step_seconds", None),
            ("fwd+bwd CPU ms/step (process CPU time)", "step_cpu_seconds", None),
            ("peak RSS MiB", "peak_rss_mib", "{:.0f}")]
    print(f"model {args.model}: {ours['parameters']:,} parameters, batch {args.batch} x seq {args.seq_len}, "
          f"{args.threads} threads")
    print(f"| metric | llcpress | PyTorch eager | llcpress / PyTorch |\n|---|---|---|---|")
    for label, key, fmt in rows:
        a, b = ours[key], torch[key]
        if fmt is None:
            print(f"| {label} | {a * 1e3:.1f} | {b * 1e3:.1f} | {b / a:.2f}x faster |")
        else:
            print(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {a / b:.2f} |")
    print(f"llcpress memory: parameters {ours['parameters_mib']:.1f} MiB + gradients {ours['gradients_mib']:.1f} MiB "
          f"+ activations {ours['activations_mib']:.1f} MiB; process before the model {ours['rss_before_model_mib']:.0f} MiB")
    if "sgemm_gflops" in ours:
        print(f"SGEMM {ours['sgemm_size']}^3 on this machine (faster of ops::gemm and Eigen): "
              f"{ours['sgemm_gflops']:.1f} GFLOP/s wall, {ours['sgemm_cpu_gflops']:.1f} GFLOP/s per process-CPU-second "
              f"(practical peak; ops::gemm {ours.get('sgemm_library_cpu_gflops', 0):.1f}, "
              f"Eigen {ours.get('sgemm_eigen_cpu_gflops', 0):.1f})")
    if "ops" in ours:
        print("  op                        wall ms   CPU ms  calls/step  GFLOP/s wall / per CPU-second")
        for name, op in ours["ops"].items():
            gflops = f"{op['gflops']:7.1f} / {op['cpu_gflops']:7.1f}" if op["gflops"] else ""
            print(f"  {name:24s} {op['seconds'] * 1e3:8.2f} {op['cpu_seconds'] * 1e3:8.2f}  x{op['calls_per_step']:<3d}"
                  f"        {gflops}")
        # All GEMM work of a step (linears, unembedding, attention products) over
        # the CPU time those ops take, against the SGEMM rate per CPU-second.
        gemm = {n: op for n, op in ours["ops"].items() if op["gflops"]}
        flops = sum(op["gflops"] * 1e9 * op["seconds"] * op["calls_per_step"] for op in gemm.values())
        cpu = sum(op["cpu_seconds"] * op["calls_per_step"] for op in gemm.values())
        total_cpu = sum(op["cpu_seconds"] * op["calls_per_step"] for op in ours["ops"].values())
        line = (f"GEMM ops: {flops / cpu / 1e9:.1f} GFLOP/s per CPU-second, {cpu * 1e3:.1f} of {total_cpu * 1e3:.1f} "
                f"CPU ms summed over all ops (step: {ours['step_cpu_seconds'] * 1e3:.1f} CPU ms)")
        if "sgemm_cpu_gflops" in ours:
            line += f"; {100 * flops / cpu / 1e9 / ours['sgemm_cpu_gflops']:.0f} % of the SGEMM rate per CPU-second"
        print(line)
    print(f"implementations: {ours['implementation']} | {torch['implementation']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"llcpress": ours, "pytorch": torch}, f, indent=2)


if __name__ == "__main__":
    main()
