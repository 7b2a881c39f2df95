"""Writes, with h5py, a file in the styles other tools produce, for
tests/io/test_external_readers.cpp to read with our layer.

Usage: /usr/bin/python3 h5py_write_sample.py FILE
"""
import sys

import h5py
import numpy as np


def main(path):
    with h5py.File(path, "w") as f:
        f["half"] = np.array([0.5, -2.0, 65504.0], dtype=np.float16)
        f["int16"] = np.array([-32768, 32767], dtype=np.int16)
        f["uint16"] = np.array([0, 65535], dtype=np.uint16)
        f["big_endian"] = np.array([1.5, -3.25], dtype=">f8")
        f["ascii_vlen"] = np.array([b"one", b"two"], dtype=h5py.string_dtype("ascii"))
        f["fixed"] = np.array([b"ab", b"cdefgh"], dtype="S8")  # null-padded fixed length
        f["utf8_vlen"] = ["λ", "plain"]
        f["scalar_int"] = np.int64(12)
        f["flags"] = np.array([True, False])  # an HDF5 enum: not a type we read
        f["pairs"] = np.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")])  # compound
        f.create_dataset("filtered", data=np.arange(5000, dtype=np.float64),
                         compression="gzip", compression_opts=9, shuffle=True, fletcher32=True, chunks=(512,))
        f.attrs["vlen_text"] = "variable"
        f.attrs["fixed_text"] = np.bytes_("fixed")
        f.attrs["python_int"] = 5
        f.attrs["python_float"] = 0.25
        f.attrs["list_of_floats"] = [1.0, 2.0, 3.5]
        f.attrs["int32_array"] = np.array([1, 2], dtype=np.int32)
        f.attrs["string_list"] = ["x", "yz"]
    # The newest file format h5py can write (superblock 3): we must open it too.
    with h5py.File(path + ".latest.h5", "w", libver="latest") as f:
        f["values"] = np.arange(3, dtype=np.int64)


if __name__ == "__main__":
    main(sys.argv[1])
