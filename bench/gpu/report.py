#!/usr/bin/env python3
"""Merges what scripts/device-check.sh run produced into one JSON report.

ok is true only when every test binary exited 0, no CUDA test skipped for want
of a GPU (on the GPU machine that means the GPU was not seen; the tests that
check the no-GPU refusals skip there by design, saying "a GPU is visible"),
and both benchmarks finished.
"""
import argparse
import glob
import json
import os


def read_json(path):
    try:
        with open(path) as source:
            return json.load(source)
    except (OSError, ValueError) as error:
        return {"error": f"{path}: {error}"}


def read_status(work, name):
    try:
        with open(os.path.join(work, name + ".status")) as source:
            return int(source.read().strip())
    except (OSError, ValueError):
        return None


def log_tail(work, name, lines=30):
    try:
        with open(os.path.join(work, name + ".log"), errors="replace") as source:
            return source.read().splitlines()[-lines:]
    except OSError:
        return []


def skip_reasons(work, name):
    """{Suite.Test: the text gtest printed between its RUN and SKIPPED lines} (the JSON has no skip message)."""
    reasons, current, lines = {}, None, []
    try:
        with open(os.path.join(work, name + ".log"), errors="replace") as source:
            for line in source:
                if line.startswith("[ RUN      ] "):
                    current, lines = line[13:].strip(), []
                elif line.startswith("[  SKIPPED ] ") and current and line[13:].startswith(current):
                    reasons[current] = " ".join(l.strip() for l in lines if l.strip())
                    current = None
                elif current:
                    lines.append(line)
    except OSError:
        pass
    return reasons


def summarise_tests(work, name):
    """gtest's JSON: counts, failures with their messages, skipped tests with their reasons."""
    summary = {"exit": read_status(work, name), "passed": 0, "failed": 0, "skipped": 0, "failures": [],
               "skipped_tests": [], "skipped_without_gpu": 0}
    reasons = skip_reasons(work, name)
    data = read_json(os.path.join(work, name + ".json"))
    if "testsuites" not in data:
        summary["error"] = data.get("error", "no gtest JSON")
        summary["log_tail"] = log_tail(work, name)
        return summary
    for suite in data["testsuites"]:
        for test in suite.get("testsuite", []):
            full = f"{suite['name']}.{test['name']}"
            if test.get("failures"):
                summary["failed"] += 1
                summary["failures"].append({"test": full,
                                            "messages": [f["failure"][:2000] for f in test["failures"]]})
            elif test.get("result") == "SKIPPED" or test.get("status") == "NOTRUN":
                summary["skipped"] += 1
                reason = reasons.get(full, "")
                summary["skipped_tests"].append({"test": full, "reason": reason[:300]})
                if "no CUDA device visible" in reason:
                    summary["skipped_without_gpu"] += 1
            else:
                summary["passed"] += 1
    return summary


def comparison(cpp, torch):
    """llcpress against PyTorch eager on the same GPU, model, batch and length, per precision: the full model step
    (GptNeox::forward_backward, `model_steps`) where it ran, with the GEMM-only lower bound beside it; and the SGLD
    step (llcpress's forward_backward + fused sampler update against devinterp's step, or the hand-written one)."""
    rows = []
    torch_by_key = {(r["model"], r["precision"]): r for r in torch.get("results", [])}
    model_by_key = {(r.get("model"), r.get("precision")): r for r in cpp.get("model_steps", []) if r.get("ran")}
    for entry in cpp.get("gemm_steps", []):
        key = (entry["model"], entry["precision"])
        other = torch_by_key.get(key)
        if not other:
            continue
        row = {"model": entry["model"], "precision": entry["precision"],
               "llcpress_gemm_only_seconds": entry["seconds_per_step"],
               "torch_eager_full_step_seconds": other["seconds_per_step"],
               "gemm_only_fraction_of_torch_step": entry["seconds_per_step"] / other["seconds_per_step"],
               "torch_mfu": other.get("mfu")}
        step = model_by_key.get(key)
        if step:
            row.update({"llcpress_full_step_seconds": step["seconds_per_step"], "llcpress_mfu": step.get("mfu"),
                        "speedup_over_torch_eager": other["seconds_per_step"] / step["seconds_per_step"]})
        rows.append(row)
    sgld = cpp.get("sgld_step", {})
    torch_sgld = next((r for r in torch.get("sgld", []) if r.get("model") == sgld.get("model")), {})
    if sgld.get("ran") and torch_sgld.get("seconds_per_step"):
        rows.append({"model": sgld.get("model"), "precision": "fp32", "what": "sgld_step",
                     "llcpress_seconds": sgld["seconds_per_step"],
                     "torch_seconds": torch_sgld["seconds_per_step"],
                     "torch_implementation": torch_sgld.get("implementation"),
                     "speedup": torch_sgld["seconds_per_step"] / sgld["seconds_per_step"]})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--kit", required=True)
    parser.add_argument("--gpus", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    tests = {os.path.basename(p)[:-len(".status")]: None for p in glob.glob(os.path.join(args.work, "test_*.status"))}
    for name in tests:
        tests[name] = summarise_tests(args.work, name)
    cpp = read_json(os.path.join(args.work, "bench_cpp.json"))
    torch = read_json(os.path.join(args.work, "bench_torch.json"))
    try:
        with open(os.path.join(args.kit, "REVISION")) as source:
            revision = source.read().strip()
    except OSError:
        revision = "unknown"
    problems = []
    for name, summary in tests.items():
        if summary["exit"] != 0:
            problems.append(f"{name} exited {summary['exit']}")
        if summary["skipped_without_gpu"]:
            problems.append(f"{name}: {summary['skipped_without_gpu']} tests skipped for want of a GPU on the GPU "
                            "machine")
    for name in ("bench_cpp", "bench_torch"):
        if read_status(args.work, name) != 0:
            problems.append(f"{name} exited {read_status(args.work, name)}")
    # The command-level comparison (tests/cuda/llc_cuda_vs_cpu_test.sh): 0 passed, 77 skipped (its log says why).
    cli_status = read_status(args.work, "cli_llc")
    if cli_status is not None and cli_status != 0:
        problems.append(f"llc_cuda_vs_cpu_test.sh {'skipped' if cli_status == 77 else 'exited ' + str(cli_status)}: "
                        + " ".join(log_tail(args.work, "cli_llc", 2)))
    report = {"ok": not problems, "problems": problems, "gpus": args.gpus, "bundle_revision": revision,
              "seconds": args.seconds, "tests": tests, "bench_llcpress": cpp, "bench_torch": torch,
              "side_by_side": comparison(cpp, torch),
              "cli_llc": {"exit": cli_status, "log": log_tail(args.work, "cli_llc")},
              "logs": {name: log_tail(args.work, name) for name in ("bench_cpp", "bench_torch")}}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as out:
        json.dump(report, out, indent=2)
    print(json.dumps({"ok": report["ok"], "problems": problems}, indent=2))


if __name__ == "__main__":
    main()
