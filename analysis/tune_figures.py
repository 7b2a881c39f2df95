#!/usr/bin/env python3
"""Figures of a hyperparameter grid (`llcpress llc --grid --out FILE.h5`, `llcpress calibrate --grid --out`).

    /usr/bin/python3 analysis/tune_figures.py FILE.h5 [--out DIR]

Writes, beside FILE.h5 (or into DIR):
  <stem>_grid.png    λ̂ (last two thirds of the draws, ± standard error) and MALA acceptance against ε,
                     one line per (nβ, γ); healthy points filled, the others hollow, the recommended one starred
  <stem>_traces.png  the draw-loss trace nβ·(L − L_init) of every chain at every grid point, one panel per
                     point (rows nβ × γ, columns ε), thirds marked, titles saying healthy or the failed rules
  <stem>_chosen.png  the recommended point's traces alone, larger (absent when no point is healthy)
Needs h5py, numpy and matplotlib (Debian: python3-h5py python3-numpy python3-matplotlib).
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from figures import save_figure  # noqa: E402
from llcpress_tables import read_columns as read_table  # noqa: E402


def traces_of(tune, index):
    group = tune[f"point_{index:03d}"]
    loss = group["traces/draw_loss"][()]
    init = float(group["init_loss"][()])
    nbeta = float(group["nbeta"][()])
    return nbeta * (loss - init)


def draw_traces(ax, values, title, highlight=False):
    draws = values.shape[1]
    for chain in values:
        ax.plot(np.arange(draws), chain, lw=0.7)
    for edge in (draws / 3, 2 * draws / 3):
        ax.axvline(edge, color="0.6", lw=0.6, ls="--")
    ax.set_title(title, fontsize=7, color="C3" if highlight else "black")
    ax.tick_params(labelsize=6)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out_dir = args.out or os.path.dirname(os.path.abspath(args.file))
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(args.file))[0]
    with h5py.File(args.file, "r") as f:
        tune = f["tune"]
        p = read_table(tune["points"])
        recommended = int(tune.attrs["recommended_index"])
        true_lambda = tune.attrs.get("true_lambda", None)
        label = f.attrs.get("checkpoint", f.attrs.get("model", ""))
        label = label.decode() if isinstance(label, bytes) else str(label)
        pairs = list(dict.fromkeys(zip(p["nbeta"], p["gamma"])))
        epsilons = sorted(set(p["epsilon"]))
        written = []

        fig, (ax_llc, ax_mala) = plt.subplots(1, 2, figsize=(10, 4))
        for k, (nbeta, gamma) in enumerate(pairs):
            rows = np.nonzero((p["nbeta"] == nbeta) & (p["gamma"] == gamma))[0]
            rows = rows[np.argsort(p["epsilon"][rows])]
            color = f"C{k % 10}"
            name = f"nβ {nbeta:.4g}, γ {gamma:.4g}"
            ax_llc.plot(p["epsilon"][rows], p["llc_late_mean"][rows], color=color, lw=0.8, label=name)
            ax_mala.plot(p["epsilon"][rows], p["mala_acceptance"][rows], color=color, lw=0.8, label=name)
            for i in rows:
                face = color if p["healthy"][i] else "none"
                ax_llc.errorbar(p["epsilon"][i], p["llc_late_mean"][i], yerr=p["llc_late_standard_error"][i],
                                fmt="o", mfc=face, mec=color, ecolor=color, ms=5)
                ax_mala.plot(p["epsilon"][i], p["mala_acceptance"][i], "o", mfc=face, mec=color, ms=5)
                if i == recommended:
                    ax_llc.plot(p["epsilon"][i], p["llc_late_mean"][i], "*", color="C3", ms=14, label="recommended")
        if true_lambda is not None:
            ax_llc.axhline(float(true_lambda), color="k", ls=":", lw=1, label=f"true λ = {float(true_lambda):.4g}")
        for ax in (ax_llc, ax_mala):
            ax.set_xscale("log")
            ax.set_xlabel("step size ε")
            ax.legend(fontsize=7)
        ax_llc.set_ylabel("λ̂ (last two thirds of the draws)")
        ax_mala.set_ylabel("mean MALA acceptance")
        fig.suptitle(f"{label}: filled = healthy, hollow = failed a rule", fontsize=9)
        written.append(save_figure(fig, out_dir, f"{stem}_grid.png"))

        fig, axes = plt.subplots(len(pairs), len(epsilons), figsize=(2.4 * len(epsilons), 1.9 * len(pairs)),
                                 squeeze=False, sharex=True)
        for i in range(len(p["epsilon"])):
            row = pairs.index((p["nbeta"][i], p["gamma"][i]))
            col = epsilons.index(p["epsilon"][i])
            verdict = "healthy" if p["healthy"][i] else p["reasons"][i]
            title = f"ε {p['epsilon'][i]:.2g} nβ {p['nbeta'][i]:.3g} γ {p['gamma'][i]:.3g}\n{verdict}"
            draw_traces(axes[row][col], traces_of(tune, i), title, highlight=i == recommended)
        for ax in axes[-1]:
            ax.set_xlabel("draw", fontsize=7)
        for row in axes:
            row[0].set_ylabel("nβ(L − L_init)", fontsize=7)
        written.append(save_figure(fig, out_dir, f"{stem}_traces.png", dpi=100))

        if recommended >= 0:
            fig, ax = plt.subplots(figsize=(6, 4))
            i = recommended
            draw_traces(ax, traces_of(tune, i),
                        f"recommended: ε {p['epsilon'][i]:.3g}, nβ {p['nbeta'][i]:.4g}, γ {p['gamma'][i]:.4g}; "
                        f"λ̂ late {p['llc_late_mean'][i]:.3f} ± {p['llc_late_standard_error'][i]:.3f}")
            ax.set_xlabel("draw (dashed: thirds; the first is burn-in)")
            ax.set_ylabel("nβ·(draw loss − L_init)")
            written.append(save_figure(fig, out_dir, f"{stem}_chosen.png"))
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
