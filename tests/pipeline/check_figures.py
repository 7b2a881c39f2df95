#!/usr/bin/env python3
"""Checks that figures drawn by analysis/figures.py are real pictures.

    check_figures.py DIR NAME.png [NAME.png ...]

For each name: the file exists in DIR, decodes as a PNG, is at least 300×300
pixels, and is not blank: more than 200 distinct colours (anti-aliased lines,
text and markers; a blank or single-colour canvas has a handful) and at least
1% of the pixels differ from the background white. Exits non-zero naming the
first figure that fails. Debian's python3-matplotlib and python3-numpy suffice.
"""
import os
import sys

import matplotlib.image as mpimg
import numpy as np


def check(path):
    if not os.path.exists(path):
        return "missing"
    image = mpimg.imread(path)  # float RGBA in [0, 1]
    height, width = image.shape[:2]
    if height < 300 or width < 300:
        return f"only {width}×{height} pixels"
    rgb = (image[..., :3] * 255).round().astype(np.uint8).reshape(-1, 3)
    colours = len(np.unique(rgb, axis=0))
    if colours <= 200:
        return f"only {colours} distinct colours: looks blank"
    inked = np.mean(np.any(rgb < 250, axis=1))
    if inked < 0.01:
        return f"only {inked:.2%} of the pixels are not white"
    return None


def main():
    directory, names = sys.argv[1], sys.argv[2:]
    failures = 0
    for name in names:
        problem = check(os.path.join(directory, name))
        print(f"{name}: {problem or 'ok'}")
        failures += problem is not None
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
