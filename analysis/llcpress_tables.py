"""Tables of llcpress HDF5 files (docs/hdf5-schema.md, section 2) in one call.

A table is a group of equal-length 1-D column datasets listed, in order, by the
group's `columns` attribute. This module reads one into a pandas DataFrame
(read_table) or, without pandas, into a dict of numpy arrays (read_columns),
with string columns decoded to str. It is a plain file: nothing to install;
put analysis/ on the path (python3 -c, a notebook) or sit beside it
(analysis/figures.py imports it).

    import sys; sys.path.insert(0, "analysis")
    from llcpress_tables import read_table
    llc = read_table("out/results.h5", "llc")   # /tables/llc as a DataFrame

Needs h5py and numpy; read_table also pandas (Debian: python3-pandas).
"""
import h5py
import numpy as np


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def table_path(name):
    """'llc' -> 'tables/llc'; a path with a '/' ('fits/table', 'shards/00003/result/chains') as given."""
    return name if "/" in name else f"tables/{name}"


def read_columns(group):
    """A table group as {column: numpy array}, in the group's column order; strings decoded to str."""
    if not isinstance(group, h5py.Group) or "columns" not in group.attrs:
        raise ValueError(f"{group.name} in {group.file.filename} is not an llcpress table (a group with a "
                         "`columns` attribute)")
    columns = {}
    for name in (_text(c) for c in group.attrs["columns"]):
        dataset = group[name]
        if h5py.check_string_dtype(dataset.dtype) is not None:
            columns[name] = np.array(dataset.asstr()[()], dtype=object)
        else:
            columns[name] = dataset[()]
    return columns


def read_units(group):
    """{column: units} of a table group (the `column_units` attribute)."""
    return dict(zip((_text(c) for c in group.attrs["columns"]), (_text(u) for u in group.attrs["column_units"])))


def table_names(source):
    """The tables under /tables of a results file (path or open h5py.File)."""
    with _opened(source) as f:
        return sorted(f["tables"].keys()) if "tables" in f else []


def read_table(source, name):
    """Table `name` ('llc', 'critical', 'curves', 'shards', or any table path) of `source`
    (a path or an open h5py.File) as a pandas DataFrame, columns in the file's order."""
    import pandas as pd  # only this function needs pandas

    with _opened(source) as f:
        return pd.DataFrame(read_columns(f[table_path(name)]))


class _opened:
    """`with _opened(x) as f`: opens a path read-only (and closes it), or passes an open file through."""

    def __init__(self, source):
        self.source, self.file = source, None

    def __enter__(self):
        if isinstance(self.source, (h5py.File, h5py.Group)):
            return self.source
        self.file = h5py.File(self.source, "r")
        return self.file

    def __exit__(self, *exc):
        if self.file is not None:
            self.file.close()
