#!/usr/bin/env python3
"""SGLD side by side: `llcpress llc` and devinterp 2.x on the same checkpoint,
batches, hyperparameters and thread count, in one run.

    python3 bench/slt/sgld_vs_devinterp.py --llcpress build/bin/llcpress \
        --llc-batches build/bench/slt/llc_batches --checkpoint DIR --data PREFIX \
        --seq-len 128 --batch 16 --epsilon 1e-3 --gamma 100 --nbeta 5.77 \
        --chains 4 --draws 100,200 --threads 1 [--sampler sgld] [--out result.json]

Every implementation runs as its own child process (bench/slt/devinterp_compare.py
for devinterp), and its CPU time (user + system) and peak RSS are read from
os.wait4, so each figure belongs to that process alone.

Speed: each side runs twice, with D1 and D2 draws (`--draws D1,D2`; burn-in 0,
one step per draw, --shared-batches so devinterp can be fed the same batch
sequence), and

    steps per CPU second = chains · (D2 − D1) / (CPU(D2) − CPU(D1)),

which cancels everything that does not scale with the step count: start-up,
loading, L_init, writing outputs. With --threads 1 this is the cost of an SGLD
step on an uncontended core even when the machine is loaded; wall-clock rates
are printed beside it for the record.

λ̂: from the D2 runs. llcpress's mean ± std over chains, devinterp's own, and
devinterp's chains re-based on llcpress's L_init batches (the same L_init).

The devinterp side needs the python3 with torch, transformers, datasets and
devinterp from PyPI; never a runtime dependency of llcpress.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def run_child(command, env):
    """Runs command; returns (stdout, CPU seconds, wall seconds, peak RSS MiB) of that process alone."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    # communicate() reads the pipes; wait4 then reaps with this child's own rusage.
    out_chunks, err_chunks = [], []
    import threading

    def drain(stream, into):
        into.append(stream.read())

    readers = [threading.Thread(target=drain, args=(child.stdout, out_chunks)),
               threading.Thread(target=drain, args=(child.stderr, err_chunks))]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(child.pid, 0)
    for r in readers:
        r.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        sys.stderr.write(err_chunks[0])
        raise SystemExit(f"{command[0]} failed with exit code {child.returncode}")
    return out_chunks[0], usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--llcpress", required=True)
    p.add_argument("--llc-batches", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--seq-len", type=int, required=True)
    p.add_argument("--sequences", default="0:512", help="A:B (B exclusive), the range batches come from")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--epsilon", type=float, required=True)
    p.add_argument("--gamma", type=float, required=True)
    p.add_argument("--nbeta", type=float, required=True)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--draws", default="100,200", help="D1,D2 (D1 < D2), or one count (no differencing)")
    p.add_argument("--init-batches", type=int, default=4)
    p.add_argument("--sampler", default="sgld", choices=["sgld", "rmsprop-sgld"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--skip-devinterp", action="store_true")
    p.add_argument("--out", default="")
    a = p.parse_args()

    draw_counts = [int(d) for d in a.draws.split(",")]
    assert draw_counts == sorted(draw_counts) and len(draw_counts) in (1, 2), "--draws is D or D1,D2 with D1 < D2"
    first, last = a.sequences.split(":")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads))
    here = os.path.dirname(os.path.abspath(__file__))

    batches_text, _, _, _ = run_child(
        [a.llc_batches, f"seed={a.seed}", f"first={first}", f"last={last}", f"batch={a.batch}",
         f"steps={draw_counts[-1]}", f"init_batches={a.init_batches}", "shared=1"], env)
    batches_path = (a.out or "sgld_vs_devinterp.json") + ".batches.json"
    with open(batches_path, "w") as f:
        f.write(batches_text)

    runs = {"llcpress": [], "devinterp": []}
    for draws in draw_counts:
        command = [a.llcpress, "llc", "--checkpoint", a.checkpoint, "--data", a.data, "--seq-len", str(a.seq_len),
                   "--sequences", a.sequences, "--batch", str(a.batch), "--sampler", a.sampler,
                   "--epsilon", repr(a.epsilon), "--gamma", repr(a.gamma), "--nbeta", repr(a.nbeta),
                   "--chains", str(a.chains), "--burn-in", "0", "--draws", str(draws), "--steps-between-draws", "1",
                   "--init-batches", str(a.init_batches), "--shared-batches", "--mala=false", "--seed", str(a.seed),
                   "--threads", str(a.threads), "--json"]
        out, cpu, wall, rss = run_child(command, env)
        summary = json.loads(out)
        runs["llcpress"].append({"draws": draws, "cpu_seconds": cpu, "wall_seconds": wall, "peak_rss_mib": rss,
                                 "result": summary})
        if a.skip_devinterp:
            continue
        command = [sys.executable, os.path.join(here, "devinterp_compare.py"), "--checkpoint", a.checkpoint,
                   "--data", a.data, "--batches", batches_path, "--seq-len", str(a.seq_len),
                   "--epsilon", repr(a.epsilon), "--gamma", repr(a.gamma), "--nbeta", repr(a.nbeta),
                   "--chains", str(a.chains), "--draws", str(draws), "--sampler", a.sampler,
                   "--threads", str(a.threads), "--init-batches", str(a.init_batches)]
        out, cpu, wall, rss = run_child(command, env)
        runs["devinterp"].append({"draws": draws, "cpu_seconds": cpu, "wall_seconds": wall, "peak_rss_mib": rss,
                                  "result": json.loads(out)})

    def rate(side, key):
        r = runs[side]
        if len(r) == 2:
            return a.chains * (r[1]["draws"] - r[0]["draws"]) / (r[1][key] - r[0][key])
        return a.chains * r[0]["draws"] / r[0][key]

    llc = runs["llcpress"][-1]["result"]
    summary = llc.get("summary", llc)
    report = {
        "checkpoint": a.checkpoint, "sampler": a.sampler, "threads": a.threads, "batch": a.batch,
        "seq_len": a.seq_len, "epsilon": a.epsilon, "gamma": a.gamma, "nbeta": a.nbeta, "chains": a.chains,
        "draws": draw_counts, "load_average": os.getloadavg(),
        "llcpress_steps_per_cpu_second": rate("llcpress", "cpu_seconds"),
        "llcpress_steps_per_wall_second": rate("llcpress", "wall_seconds"),
        "llcpress_llc_mean": summary.get("llc_mean"), "llcpress_llc_std": summary.get("llc_std"),
        "llcpress_init_loss": summary.get("init_loss"),
        "llcpress_peak_rss_mib": runs["llcpress"][-1]["peak_rss_mib"],
        "llcpress_sampler_state_bytes": summary.get("sampler_state_bytes"),
        "llcpress_sampler_overhead": summary.get("sampler_overhead"),
    }
    if not a.skip_devinterp:
        d = runs["devinterp"][-1]["result"]
        report.update({
            "devinterp_steps_per_cpu_second": rate("devinterp", "cpu_seconds"),
            "devinterp_steps_per_wall_second": rate("devinterp", "wall_seconds"),
            "speedup_cpu": rate("llcpress", "cpu_seconds") / rate("devinterp", "cpu_seconds"),
            "speedup_wall": rate("llcpress", "wall_seconds") / rate("devinterp", "wall_seconds"),
            "devinterp_llc_mean": d["llc_devinterp_mean"], "devinterp_llc_std": d["llc_devinterp_std"],
            "devinterp_init_loss": d["init_loss_devinterp"],
            "devinterp_same_init_llc_mean": d["llc_same_init_mean"],
            "devinterp_same_init_llc_std": d["llc_same_init_std"],
            "devinterp_init_loss_on_llcpress_batches": d["init_loss_llcpress_batches_torch"],
            "devinterp_peak_rss_mib": runs["devinterp"][-1]["peak_rss_mib"],
        })
    report["runs"] = runs
    text = json.dumps(report, indent=2)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    brief = {k: v for k, v in report.items() if k != "runs"}
    print(json.dumps(brief, indent=2))


if __name__ == "__main__":
    main()
