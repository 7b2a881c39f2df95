"""Checks, with h5py, a file that tests/io/test_external_readers.cpp wrote.

Usage: /usr/bin/python3 h5py_read_ours.py FILE. Exits non-zero (with the failed
assertion) when h5py sees anything other than what the C++ test wrote; the
expected values are recomputed here from the same formulas, not copied.
"""
import json
import sys

import h5py
import numpy as np


def check_units(dataset, units, description):
    assert dataset.attrs["units"] == units, (dataset.name, dataset.attrs["units"])
    assert dataset.attrs["description"] == description, (dataset.name, dataset.attrs["description"])


def main(path):
    with h5py.File(path, "r") as f:
        arrays = f["arrays"]
        float32 = arrays["float32_2d"]
        assert float32.dtype == np.dtype("<f4") and float32.shape == (3, 4)
        assert np.array_equal(float32[()], (np.arange(12) * 0.25 - 1.5).astype(np.float32).reshape(3, 4))
        check_units(float32, "nats", "a float32 matrix")

        float64 = arrays["float64_3d"]
        assert float64.dtype == np.dtype("<f8") and float64.shape == (2, 3, 4)
        assert np.array_equal(float64[()], (np.arange(24) * 0.5 - 3).reshape(2, 3, 4))

        int32 = arrays["int32_1d"][()]
        assert int32.dtype == np.dtype("<i4")
        assert list(int32) == [np.iinfo(np.int32).min, np.iinfo(np.int32).max, 0, 7]
        int64 = arrays["int64_1d"][()]
        assert int64.dtype == np.dtype("<i8")
        assert list(int64) == [np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, -5]
        uint8 = arrays["uint8_2d"][()]
        assert uint8.dtype == np.dtype("u1") and uint8.tolist() == [[0, 1], [254, 255]]

        strings = arrays["strings"]
        assert h5py.check_string_dtype(strings.dtype).encoding == "utf-8"
        assert list(strings.asstr()[()]) == ["alpha", "λ̂ ≈ 1", ""]

        assert arrays["scalar"].shape == () and arrays["scalar"][()] == 42.5
        assert arrays["empty"].shape == (0,)

        big = f["big/compressed"]
        assert big.compression == "gzip" and big.compression_opts == 4 and big.shuffle, big.compression
        assert big.chunks is not None and big.fletcher32
        assert np.array_equal(big[()], np.floor(np.arange(256 * 1024) / 1024.0))

        root = f.attrs
        assert root["schema_version"] == 3 and root["schema_version"].dtype == np.int64
        assert json.loads(root["config_json"]) == {"seed": 7, "methods": ["svd", "quantize"]}
        for key in ("git_revision", "llcpress_version", "host", "created_utc", "gemm_library"):
            assert isinstance(root[key], str) and root[key], key
        assert list(root["reals"]) == [0.5, -2.0]
        assert list(root["integers"]) == [3, -4, 5]
        assert list(root["names"]) == ["a", "βγ"]
        assert root["real"] == 2.5 and root["integer"] == -9

        # The documented one-call read of a table (docs/hdf5-schema.md).
        table = f["summary"]
        columns = list(table.attrs["columns"])
        assert columns == ["model", "step", "eps"], columns
        assert list(table.attrs["column_units"]) == ["", "steps", "nats"]
        data = {c: (table[c].asstr()[()] if h5py.check_string_dtype(table[c].dtype) else table[c][()])
                for c in columns}
        assert list(data["model"]) == ["pythia-70m", "pythia-160m"]
        assert list(data["step"]) == [1000, 143000]
        assert list(data["eps"]) == [0.01, 0.1]
        assert table.attrs["num_rows"] == 2
    print("h5py read everything as written")


if __name__ == "__main__":
    main(sys.argv[1])
