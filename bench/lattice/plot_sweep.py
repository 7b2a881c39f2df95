#!/usr/bin/python3
"""D(R) of the matrix quantizers against the bound Gamma(R), from a
`llcpress matmul-bench --sweep-rate FILE.h5` file.

    /usr/bin/python3 bench/lattice/plot_sweep.py sweep.h5 sweep.png

Left: distortion against rate (log scale) with Gamma(R); right: D/Gamma.
Uses Debian's python3 (h5py, matplotlib)."""
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def column(group, name):
    values = group[name][()]
    if values.dtype.kind in "SO":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
    return values


def main(path, output):
    with h5py.File(path, "r") as f:
        sweep = f["sweep"]
        quantizer = column(sweep, "quantizer")
        rate = column(sweep, "rate")
        distortion = column(sweep, "distortion")
        ratio = column(sweep, "ratio")
        curve_rate = f["gamma"]["rate"][()]
        curve_gamma = f["gamma"]["gamma"][()]
        title = "n=%d, a=%d, b=%d (%s)" % (f.attrs["n"], f.attrs["a"], f.attrs["b"], f.attrs["source"])
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = []
    for q in quantizer:
        key = "scalar (l-inf)" if q.startswith("linf") else q
        if key not in names:
            names.append(key)
    for name in names:
        rows = [i for i, q in enumerate(quantizer) if (q.startswith("linf") if name == "scalar (l-inf)" else q == name)]
        r = [rate[i] for i in rows]
        left.plot(r, [distortion[i] for i in rows], marker="o", markersize=3, label=name)
        right.plot(r, [ratio[i] for i in rows], marker="o", markersize=3, label=name)
    keep = curve_rate <= max(rate) + 0.25
    left.plot(curve_rate[keep], curve_gamma[keep], "k-", linewidth=2, label="Gamma(R)")
    left.set_yscale("log")
    left.set_xlabel("rate R (bits per entry, all side information)")
    left.set_ylabel("D = ||A^T B - C||^2 / (n a b)")
    left.legend()
    left.grid(True, which="both", alpha=0.3)
    right.axhline(1.4, color="gray", linestyle="--", label="1.4")
    right.set_xlabel("rate R (bits per entry)")
    right.set_ylabel("D / Gamma(R)")
    right.set_ylim(1.0, max(3.0, 1.05 * min(max(ratio), 8)))
    right.legend()
    right.grid(True, alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(output, dpi=120)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
