#!/usr/bin/env python3
"""Figures of an llcpress run, read from OUT/results.h5 (docs/hdf5-schema.md).

    /usr/bin/python3 analysis/figures.py OUT [--matmul FILE.h5 ...]

Writes PNGs into OUT/figures/:
  llc_vs_critical_<method>.png   λ̂ against the critical amount per model, fit lines and R² (the main figure)
  over_steps.png                 λ̂ and the critical amounts over training steps (log-scaled steps)
  curves_<model>_<method>.png    loss against the compression amount, one line per checkpoint
  bits_predicted_vs_measured.png the theory's bits per weight against the measured ones (quantizers)
  matmul_rate.png                D(R) of the matrix-multiplication quantizers against Γ(R), when a sweep exists
Rows of /tables/llc whose shard failed (status "failed": too few healthy chains) and rows without a finite λ̂
are left out of every figure, each named on stderr; empty tables give no figure and no error.
Needs h5py, numpy and matplotlib (Debian: python3-h5py python3-numpy python3-matplotlib).
"""
import argparse
import glob
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")  # batch jobs have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from llcpress_tables import read_columns  # noqa: E402  (analysis/llcpress_tables.py, beside this file)


def num_rows(table):
    """Rows of a table read by read_columns (0 for a table without columns)."""
    return len(next(iter(table.values()))) if table else 0


def select_rows(table, mask):
    return {name: values[mask] for name, values in table.items()}


_reported_rows = set()  # (model, step) already named on stderr: several figures read /tables/llc


def report_left_out(where, why):
    if where not in _reported_rows:
        _reported_rows.add(where)
        print(f"figures.py: left out {where}: {why}", file=sys.stderr)


def usable_llc(results):
    """/tables/llc without the rows no figure may use: failed shards and non-finite λ̂ (each reported once)."""
    if "tables/llc" not in results:
        return None
    llc = read_columns(results["tables/llc"])
    rows = num_rows(llc)
    if rows == 0:
        return llc
    keep = np.ones(rows, dtype=bool)
    for i in range(rows):
        status = llc["status"][i] if "status" in llc else "done"
        where = f"{llc['model'][i]} step {llc['step'][i]}"
        if status != "done":
            reason = llc["failure_reason"][i] if "failure_reason" in llc else ""
            report_left_out(where, f"LLC shard {status}: {reason}")
            keep[i] = False
        elif not np.isfinite(llc["llc_mean"][i]):
            report_left_out(where, "λ̂ is not finite")
            keep[i] = False
    return select_rows(llc, keep)


def finite_or_zero(values):
    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values), values, 0.0)


def units_of(group, column):
    units = group[column].attrs.get("units", "")
    return units.decode() if isinstance(units, bytes) else str(units)


def rows_where(table, **conditions):
    mask = np.ones(num_rows(table), dtype=bool)
    for key, value in conditions.items():
        mask &= table[key] == value
    return mask


def save_figure(fig, out_dir, name, dpi=120):
    """Lays the figure out, writes OUT/figures/<name> and frees it; returns the path."""
    fig.tight_layout()
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def model_colors(models):
    cmap = plt.get_cmap("viridis")
    return {m: cmap(i / max(1, len(models) - 1)) for i, m in enumerate(models)}


def parameter_unit(table):
    """The `parameter_unit` column (schema_version 3; results.h5 of versions 1-2 called it `units`)."""
    return table["parameter_unit"] if "parameter_unit" in table else table["units"]


def parameter_label(critical, method_mask):
    names = sorted(set(critical["parameter"][method_mask]))
    units = sorted(set(parameter_unit(critical)[method_mask]))
    return f"critical {', '.join(names)} [{', '.join(units)}]"


def figure_llc_vs_critical(results, out_dir):
    if "tables/llc" not in results or "tables/critical" not in results:
        return []
    llc = usable_llc(results)
    critical = read_columns(results["tables/critical"])
    if num_rows(llc) == 0 or num_rows(critical) == 0:
        return []
    fits = read_columns(results["fits/table"]) if "fits/table" in results else None
    models = list(dict.fromkeys(llc["model"]))
    colors = model_colors(models)
    written = []
    for method in dict.fromkeys(critical["method"]):
        eps_values = sorted(set(critical["eps"][critical["method"] == method]))
        fig, axes = plt.subplots(1, len(eps_values), figsize=(4.6 * len(eps_values), 4.2), squeeze=False)
        for ax, eps in zip(axes[0], eps_values):
            for model in models:
                xs, xerr, ys, bound_x, bound_y = [], [], [], [], []
                for i in np.nonzero(rows_where(critical, method=method, eps=eps, model=model))[0]:
                    j = np.nonzero(rows_where(llc, model=model, step=critical["step"][i]))[0]
                    if len(j) == 0 or not np.isfinite(critical["critical_amount"][i]):
                        continue
                    if "status" in critical and critical["status"][i] != "found":
                        # a bound of the search range, left out of the fit: drawn hollow
                        bound_x.append(llc["llc_mean"][j[0]])
                        bound_y.append(critical["critical_amount"][i])
                        continue
                    xs.append(llc["llc_mean"][j[0]])
                    xerr.append(finite_or_zero(llc["llc_std"][j[0]]))  # one chain: no spread to draw
                    ys.append(critical["critical_amount"][i])
                if bound_x:
                    ax.scatter(bound_x, bound_y, s=30, facecolors="none", edgecolors=[colors[model]],
                               label=f"{model}: bound of the range (not fitted)")
                if not xs:
                    continue
                label = model
                if fits is not None:
                    f = rows_where(fits, scope=model, method=method, eps=eps)
                    if "fitted" in fits:
                        f &= fits["fitted"] == 1  # lines with too few points have no fit to draw
                    if f.any():
                        k = np.nonzero(f)[0][0]
                        grid = np.linspace(min(xs), max(xs), 50)
                        ax.plot(grid, fits["intercept"][k] + fits["slope"][k] * grid, color=colors[model], lw=1)
                        label = f"{model} (R²={fits['r_squared'][k]:.2f})"
                ax.errorbar(xs, ys, xerr=xerr, fmt="o", ms=4, color=colors[model], label=label, capsize=2)
            ax.set_xlabel("LLC λ̂ (dimensionless)")
            ax.set_ylabel(parameter_label(critical, critical["method"] == method))
            ax.set_title(f"{method}, ε = {eps:g} nats")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        fig.suptitle(f"Complexity vs compressibility: {method}")
        written.append(save_figure(fig, out_dir, f"llc_vs_critical_{method}.png"))
    return written


def positive_steps(steps):
    # log-scaled axes cannot show step 0: draw it at 0.5 and say so in the label
    return np.where(steps > 0, steps, 0.5)


def figure_over_steps(results, out_dir):
    panels = []
    llc = usable_llc(results)
    if llc is not None and num_rows(llc) == 0:
        llc = None
    if llc is not None:
        panels.append(("llc", None))
    critical = read_columns(results["tables/critical"]) if "tables/critical" in results else None
    if critical is not None and num_rows(critical) == 0:
        critical = None
    if critical is not None:
        for method in dict.fromkeys(critical["method"]):
            panels.append(("critical", method))
    if not panels:
        return []
    columns = min(3, len(panels))  # a grid, so six panels stay readable
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.8 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    all_models = list(dict.fromkeys(llc["model"] if llc is not None else critical["model"]))
    colors = model_colors(all_models)
    for ax, (kind, method) in zip(axes.flat, panels):
        for model in all_models:
            if kind == "llc":
                m = rows_where(llc, model=model)
                if not m.any():
                    continue
                order = np.argsort(llc["step"][m])
                ax.errorbar(positive_steps(llc["step"][m][order]), llc["llc_mean"][m][order],
                            yerr=finite_or_zero(llc["llc_std"][m][order]), marker="o", ms=3, capsize=2,
                            color=colors[model], label=model)
                ax.set_ylabel("LLC λ̂ (dimensionless)")
                ax.set_title("LLC over training")
            else:
                eps_values = sorted(set(critical["eps"][critical["method"] == method]))
                eps = eps_values[len(eps_values) // 2]
                m = rows_where(critical, model=model, method=method, eps=eps)
                if not m.any():
                    continue
                order = np.argsort(critical["step"][m])
                steps = positive_steps(critical["step"][m][order])
                amounts = critical["critical_amount"][m][order]
                ax.plot(steps, amounts, color=colors[model], lw=1, label=model)
                found = (critical["status"][m][order] == "found") if "status" in critical else np.ones(len(steps), bool)
                ax.scatter(steps[found], amounts[found], s=12, color=colors[model])
                # bounds of the search range (not a measured threshold) are drawn hollow
                ax.scatter(steps[~found], amounts[~found], s=22, facecolors="none", edgecolors=[colors[model]])
                ax.set_ylabel(parameter_label(critical, critical["method"] == method))
                ax.set_title(f"{method} (ε = {eps:g} nats)")
        ax.set_xscale("log")
        ax.set_xlabel("training step (step 0 drawn at 0.5)")
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return [save_figure(fig, out_dir, "over_steps.png")]


def figure_curves(results, out_dir):
    if "tables/curves" not in results:
        return []
    curves = read_columns(results["tables/curves"])
    if num_rows(curves) == 0:
        return []
    written = []
    for model in dict.fromkeys(curves["model"]):
        for method in dict.fromkeys(curves["method"][curves["model"] == model]):
            m = rows_where(curves, model=model, method=method)
            steps = sorted(set(curves["step"][m]))
            fig, ax = plt.subplots(figsize=(5.5, 4))
            cmap = plt.get_cmap("plasma")
            for i, step in enumerate(steps):
                s = m & (curves["step"] == step)
                order = np.argsort(curves["amount"][s])
                ax.plot(curves["amount"][s][order], curves["loss"][s][order], marker=".", ms=4,
                        color=cmap(i / max(1, len(steps) - 1)), label=f"step {step}")
            ax.set_xlabel(f"{curves['parameter'][m][0]} [{parameter_unit(curves)[m][0]}]")
            ax.set_ylabel("held-out loss [nats/token]")
            if curves["parameter"][m][0] == "levels":
                ax.set_xscale("log", base=2)
            ax.set_title(f"{model}: loss vs {method}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6, ncol=2)
            written.append(save_figure(fig, out_dir, f"curves_{model}_{method}.png", dpi=110))
    return written


def figure_bits(results, out_dir):
    if "tables/critical" not in results:
        return []
    critical = read_columns(results["tables/critical"])
    if num_rows(critical) == 0:
        return []
    # log axes: (λ̂/d)·log2(1/ε) is orders of magnitude below the measured bits on small models
    m = np.isfinite(critical["bits_per_weight"]) & np.isfinite(critical["predicted_bits"])
    m &= (critical["bits_per_weight"] > 0) & (critical["predicted_bits"] > 0)
    if not m.any():
        return []
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for method in dict.fromkeys(critical["method"][m]):
        s = m & (critical["method"] == method)
        ax.scatter(critical["predicted_bits"][s], critical["bits_per_weight"][s], s=14, label=method)
    low = min(critical["predicted_bits"][m].min(), critical["bits_per_weight"][m].min())
    high = max(critical["predicted_bits"][m].max(), critical["bits_per_weight"][m].max())
    ax.plot([low, high], [low, high], "k--", lw=1, label="measured = predicted")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted b* = (λ̂/d)·log₂(1/ε) [bits/weight]")
    ax.set_ylabel("measured critical bits [bits/weight]")
    ax.set_title("Theory vs measurement")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return [save_figure(fig, out_dir, "bits_predicted_vs_measured.png")]


def figure_matmul(paths, out_dir):
    sweeps = []
    for path in paths:
        with h5py.File(path, "r") as f:
            if "sweep" not in f:
                continue
            sweeps.append((os.path.basename(path), read_columns(f["sweep"])))
    if not sweeps:
        return []
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    rates = np.linspace(0.05, 5.5, 300)
    for name, table in sweeps:
        for scheme in dict.fromkeys(table["scheme"]):
            s = table["scheme"] == scheme
            order = np.argsort(table["rate"][s])
            ax.plot(table["rate"][s][order], table["distortion"][s][order], marker="o", ms=3, label=scheme)
        if "gamma" in table:
            order = np.argsort(table["rate"])
            gamma_rates = table["rate"][order]
            ax.plot(gamma_rates, table["gamma"][order], "k--", lw=1, label="Γ(R) at the measured rates")
    ax.set_yscale("log")
    ax.set_xlabel("rate R [bits/entry, side information included]")
    ax.set_ylabel("distortion ‖AᵀB − Ĉ‖²/(n·a·b)")
    ax.set_title("Matrix-multiplication quantizers vs Γ(R)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return [save_figure(fig, out_dir, "matmul_rate.png")]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="the run's output directory (holds results.h5)")
    parser.add_argument("--matmul", nargs="*", default=None,
                        help="matmul-bench --sweep-rate files (default: OUT/matmul*.h5)")
    args = parser.parse_args()
    results_path = os.path.join(args.output, "results.h5")
    if not os.path.exists(results_path):
        sys.exit(f"figures.py: {results_path} does not exist (run `llcpress gather {args.output}` first)")
    out_dir = os.path.join(args.output, "figures")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    with h5py.File(results_path, "r") as results:
        written += figure_llc_vs_critical(results, out_dir)
        written += figure_over_steps(results, out_dir)
        written += figure_curves(results, out_dir)
        written += figure_bits(results, out_dir)
    matmul_paths = args.matmul if args.matmul is not None else sorted(glob.glob(os.path.join(args.output, "matmul*.h5")))
    written += figure_matmul(matmul_paths, out_dir)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
