#!/usr/bin/env python3
"""Tables of critical amounts per checkpoint and tolerance from the JSON files
bench/compress/suite_sweeps.sh writes (OUT/<model>/<step>/<method>.json).

    python3 bench/compress/suite_table.py OUT [--methods quant,svd,...] [--compact]

Prints, per model, one markdown table: rows = checkpoints (training steps),
columns = method x eps, cells = the critical amount ('bound X': the range end X
was reached with the loss still within tolerance, all_within_tolerance; '-':
none within tolerance), plus L0 and the loss evaluations of all methods per
checkpoint (--compact: one column per method, the ε in one cell); then a table
of loss evaluations per method and checkpoint. Then, per method and eps,
whether the critical amount grows over training (Spearman rank correlation
with the step over the checkpoints after step 0)."""
import json
import os
import re
import sys

# Column order when --methods is not given (the order of suite_sweeps.sh).
DEFAULT_ORDER = ["quant", "quant-maxabs", "lattice", "svd", "noise", "noise-rel", "prune", "prune-heads",
                 "prune-neurons"]


def step_number(name):
    return int(re.sub(r"\D", "", name))


def critical_amount(critical):
    # `critical_amount` since schema_version 3; JSON files of earlier sweeps call it `critical`.
    return critical["critical_amount"] if "critical_amount" in critical else critical["critical"]


def cell(critical):
    status, value = critical["status"], critical_amount(critical)
    if status == "none_within_tolerance":
        return "-"
    text = f"{value:.4g}"
    return ("bound " + text) if status == "all_within_tolerance" else text


def spearman(xs, ys):
    def ranks(values):
        order = sorted(range(len(values)), key=lambda i: values[i])
        r = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2.0
            i = j + 1
        return r
    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return sxy / (sxx * syy) ** 0.5 if sxx > 0 and syy > 0 else float("nan")


def main():
    out = sys.argv[1]
    compact = "--compact" in sys.argv
    wanted = None
    if "--methods" in sys.argv:
        wanted = sys.argv[sys.argv.index("--methods") + 1].split(",")
    for model in sorted(os.listdir(out), key=lambda m: int(re.sub(r"\D", "", m) or 0)):
        model_dir = os.path.join(out, model)
        if not os.path.isdir(model_dir):
            continue
        steps = sorted((s for s in os.listdir(model_dir) if s.startswith("step")), key=step_number)
        results = {}
        for step in steps:
            for name in os.listdir(os.path.join(model_dir, step)):
                if name.endswith(".json"):
                    with open(os.path.join(model_dir, step, name)) as f:
                        try:
                            results[(step, name[:-5])] = json.load(f)
                        except json.JSONDecodeError:
                            pass
        order = wanted or DEFAULT_ORDER
        methods = sorted({m for (_, m) in results}, key=lambda m: (order.index(m) if m in order else len(order), m))
        if wanted:
            methods = [m for m in methods if m in wanted]
        if not methods:
            continue
        first = next(iter(results.values()))
        epsilons = first["eps"] if "eps" in first else first["epsilons"]  # `epsilons` before schema_version 3
        print(f"\n### {model}\n")
        if compact:  # one column per method, the criticals of all ε in one cell
            header = ["step", "L0"] + [m + " (ε " + "/".join(f"{e:g}" for e in epsilons) + ")" for m in methods] + ["evals"]
        else:
            header = ["step", "L0"] + [f"{m} ε={e:g}" for m in methods for e in epsilons] + ["evals"]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for step in steps:
            row = [step_number(step)]
            loss0, evaluations = None, 0
            for m in methods:
                r = results.get((step, m))
                if r is None:
                    row += ["?"] if compact else ["?"] * len(epsilons)
                    continue
                loss0 = r["reference_loss"]
                evaluations += r["loss_evaluations"]
                cells = [cell(c) for c in r["criticals"]]
                row += [" / ".join(cells)] if compact else cells
            row.insert(1, f"{loss0:.4f}" if loss0 is not None else "?")
            row.append(evaluations)
            print("| " + " | ".join(str(x) for x in row) + " |")
        print(f"\nLoss evaluations per sweep ({model}; all ε of a method share one sweep):\n")
        print("| step | " + " | ".join(methods) + " | all |")
        print("|" + "---|" * (len(methods) + 2))
        for step in steps:
            counts = [results[(step, m)]["loss_evaluations"] if (step, m) in results else None for m in methods]
            known = [c for c in counts if c is not None]
            print(f"| {step_number(step)} | " + " | ".join("?" if c is None else str(c) for c in counts)
                  + f" | {sum(known)} |")
        print()
        for m in methods:
            for i, e in enumerate(epsilons):
                xs, ys = [], []
                for step in steps:
                    r = results.get((step, m))
                    if r is None or step_number(step) == 0:
                        continue
                    c = r["criticals"][i]
                    if c["status"] == "none_within_tolerance":
                        continue
                    xs.append(step_number(step))
                    ys.append(critical_amount(c))
                if len(xs) >= 3:
                    print(f"- {m} ε={e:g}: Spearman(step, critical) = {spearman(xs, ys):+.2f} over {len(xs)} checkpoints "
                          f"(first {ys[0]:.4g} → last {ys[-1]:.4g})")


if __name__ == "__main__":
    main()
