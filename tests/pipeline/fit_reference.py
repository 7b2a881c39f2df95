"""Independent reference for tests/pipeline/test_fit.cpp: reads points as JSON
on stdin, prints OLS / R² / Pearson / Spearman computed with numpy (and scipy
when present) as JSON. Runs with Debian's python3 + python3-numpy."""
import json
import sys

import numpy as np

points = json.load(sys.stdin)
x = np.array(points["x"], dtype=np.float64)
y = np.array(points["y"], dtype=np.float64)
design = np.column_stack([np.ones_like(x), x])
(intercept, slope), *_ = np.linalg.lstsq(design, y, rcond=None)
residuals = y - (intercept + slope * x)
r_squared = 1.0 - residuals @ residuals / ((y - y.mean()) @ (y - y.mean()))
pearson = np.corrcoef(x, y)[0, 1]
try:
    from scipy import stats

    spearman = stats.spearmanr(x, y).statistic
    source = "scipy"
except ImportError:  # average ranks by hand: rank of each value = mean position of its ties
    def ranks(v):
        order = np.argsort(v, kind="mergesort")
        r = np.empty(len(v))
        r[order] = np.arange(1, len(v) + 1)
        return np.array([r[v == value].mean() for value in v])

    spearman = np.corrcoef(ranks(x), ranks(y))[0, 1]
    source = "numpy"
slope_se = np.sqrt(residuals @ residuals / (len(x) - 2) / ((x - x.mean()) @ (x - x.mean())))
print(json.dumps({"slope": slope, "intercept": intercept, "r_squared": r_squared, "pearson": pearson,
                  "spearman": float(spearman), "slope_standard_error": slope_se, "source": source}))
