#!/usr/bin/env python3
"""Runs every ```python block of docs/*.md against a real results.h5, and checks the one-call pandas read.

    run_doc_examples.py REPO RESULTS_H5 WORKDIR

Each block runs as its own script in WORKDIR, where out/results.h5 is RESULTS_H5 and analysis/ is the
repository's, so the docs can name the paths a user has after `llcpress gather out`. A block that raises
fails the test, and so does a docs tree without python blocks (the extraction itself broke).
"""
import glob
import os
import re
import subprocess
import sys

import h5py
import numpy as np


def python_blocks(repo):
    blocks = []
    for path in sorted(glob.glob(os.path.join(repo, "docs", "*.md"))):
        text = open(path, encoding="utf-8").read()
        for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((f"{os.path.relpath(path, repo)}:{line}", match.group(1)))
    return blocks


def link(target, name):
    if os.path.lexists(name):
        os.remove(name)
    os.symlink(target, name)


def check_pandas_reads(repo, results):
    """read_table of every table against the column datasets h5py reads one by one."""
    sys.path.insert(0, os.path.join(repo, "analysis"))
    from llcpress_tables import read_table, table_names

    names = table_names(results)
    assert set(names) >= {"llc", "critical", "curves", "shards"}, names
    with h5py.File(results, "r") as f:
        for name in names:
            frame = read_table(results, name)  # the one call
            group = f["tables/" + name]
            columns = [c.decode() if isinstance(c, bytes) else str(c) for c in group.attrs["columns"]]
            assert list(frame.columns) == columns, (name, list(frame.columns), columns)
            assert len(frame) == int(group.attrs["num_rows"]) > 0, (name, len(frame))
            for column in columns:
                stored = group[column]
                if h5py.check_string_dtype(stored.dtype) is not None:
                    assert list(frame[column]) == list(stored.asstr()[()]), (name, column)
                    assert all(isinstance(v, str) for v in frame[column]), (name, column)
                else:
                    assert np.array_equal(frame[column].to_numpy(), stored[()], equal_nan=True), (name, column)
            print(f"read_table({name!r}): {len(frame)} rows x {len(columns)} columns")
        llc = read_table(results, "llc")
        assert "llc_mean" in llc and "llc_std" in llc and not any(c.startswith("lambda") for c in llc.columns)
        assert np.all(np.isfinite(llc["llc_mean"])), llc["llc_mean"]


def main():
    repo, results, work = (os.path.abspath(p) for p in sys.argv[1:4])
    os.makedirs(os.path.join(work, "out"), exist_ok=True)
    link(results, os.path.join(work, "out", "results.h5"))
    link(os.path.join(repo, "analysis"), os.path.join(work, "analysis"))

    check_pandas_reads(repo, results)

    blocks = python_blocks(repo)
    assert blocks, "no ```python blocks found in docs/*.md"
    failed = []
    for i, (where, code) in enumerate(blocks):
        script = os.path.join(work, f"example_{i}.py")
        with open(script, "w", encoding="utf-8") as out:
            out.write(code)
        run = subprocess.run([sys.executable, script], cwd=work, capture_output=True, text=True, timeout=120)
        status = "ok" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
        print(f"{where}: {status}")
        print("\n".join("    " + line for line in (run.stdout + run.stderr).splitlines()[:20]))
        if run.returncode != 0:
            failed.append(where)
    print(f"{len(blocks) - len(failed)} of {len(blocks)} docs examples ran")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
