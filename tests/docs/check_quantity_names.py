#!/usr/bin/env python3
"""One name per quantity (issue 19, docs/hdf5-schema.md "One name per quantity").

check_quantity_names.py LLCPRESS SUITE WORK: WORK is the tiny pipeline run of make_results.sh (WORK/out holds
its shards and results.h5). Checks, and fails on the first disagreement:
  1. no retired name (schema <= 2) appears as a dataset, table column, attribute or JSON key in a sweep shard,
     an llc shard, the results tables, `query`'s CSV headers, `sweep --json`, `llc --json` or `calibrate --json`
     (names that look alike but are another quantity are allowed only where that other quantity lives);
  2. a quantity written in two places has the same name there: the sweep shard's `criticals`/`points` columns
     appear in /tables/critical and /tables/curves, `sweep --json` uses the shard's column names, the llc
     columns of /tables/llc are keys of `llc --json` and datasets/attributes of the llc shard, and `query`'s
     headers are the tables' columns.
"""
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import h5py

exe, suite, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
out = work / "out"

# Names retired by schema versions 2 and 3; never to be written again.
RETIRED = {
    "lambda_mean": "llc_mean", "lambda_std": "llc_std", "lambda_standard_error": "llc_standard_error",
    "epsilons": "eps", "critical": "critical_amount", "critical_bits_per_weight": "bits_per_weight",
    "predicted_bits_per_weight": "predicted_bits", "effective_parameter": "effective_amount",
    "total_parameters": "parameters_total", "num_parameters": "parameters_total",
}
failures = []


def fail(message):
    failures.append(message)
    print("FAIL:", message)


def check_name(name, where, value_is_string, context, is_attribute=False):
    """context: 'sweep'/'llc' (outputs), 'chains' (rows of one chain), 'settings' (a resolved configuration,
    whose keys are the option names: `llc.epsilon` is the SGLD step size, `--llc` the λ̂ given to a sweep)."""
    if name in RETIRED:
        fail(f"{where}: retired name '{name}' (now '{RETIRED[name]}')")
    # `epsilon` is the SGLD step size; as a tolerance it is `eps`.
    if name == "epsilon" and context != "settings":
        fail(f"{where}: 'epsilon' outside the sampler settings (the tolerance ε is 'eps')")
    # `llc` names one chain's estimate (chains rows) or the LLC settings object, never λ̂ itself.
    if name == "llc" and context not in ("chains", "object", "settings"):
        fail(f"{where}: 'llc' used for λ̂ (its name is 'llc_mean')")
    # `parameter` is the method parameter's name (a string); its value at a point is `amount`.
    if name == "parameter" and not value_is_string:
        fail(f"{where}: numeric 'parameter' (the value of the parameter is 'amount')")
    # `units` is the attribute every dataset carries; as a column or key, the parameter's unit is `parameter_unit`.
    # (A method's settings may count `units`, e.g. prune-neurons' neurons: that is a setting, not a unit.)
    if name == "units" and not is_attribute and context != "settings":
        fail(f"{where}: 'units' as a column or key (the parameter's unit is 'parameter_unit')")


def is_string_dataset(ds):
    return h5py.check_string_dtype(ds.dtype) is not None


def walk_hdf5(group, where, context):
    for key, value in group.attrs.items():
        check_name(key, f"{where} attribute", isinstance(value, (str, bytes)), context, is_attribute=True)
    for name, item in group.items():
        path = f"{where}/{name}"
        if isinstance(item, h5py.Group):
            walk_hdf5(item, path, "chains" if name == "chains" else context)
        else:
            check_name(name, path, is_string_dataset(item), context)


def walk_json(value, where, context):
    if isinstance(value, dict):
        for key, item in value.items():
            sub = context
            if key == "config" or (context == "calibrate" and key == "llc") or key == "resolved_config":
                sub = "settings"
            elif key == "chains":
                sub = "chains"
            key_context = "object" if isinstance(item, dict) and key == "llc" else sub
            check_name(key, f"{where}.{key}", isinstance(item, str), key_context)
            walk_json(item, f"{where}.{key}", sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            walk_json(item, f"{where}[{i}]", context)


def columns(group):
    return [c.decode() if isinstance(c, bytes) else str(c) for c in group.attrs["columns"]]


def run_json(args):
    done = subprocess.run([exe, *args, "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"llcpress {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)


# --- HDF5: shards and results tables ---------------------------------------------------------------------------
with h5py.File(out / "results.h5", "r") as results:
    shards = results["tables/shards"]
    tasks = dict(zip(shards["shard"][()], shards["task"].asstr()[()]))
    tables = {name: columns(results["tables/" + name]) for name in ("llc", "critical", "curves", "shards")}
    for name in ("llc", "critical", "curves"):
        walk_hdf5(results["tables/" + name], f"results.h5:/tables/{name}", "sweep" if name != "llc" else "llc")

sweep_shard = llc_shard = None
for shard_id, task in sorted(tasks.items()):
    path = out / "shards" / f"{shard_id:05d}.h5"
    if task == "llc" and llc_shard is None:
        llc_shard = path
    if task != "llc" and sweep_shard is None:
        sweep_shard = path
assert sweep_shard and llc_shard, f"the tiny run needs an llc and a sweep shard: {tasks}"

with h5py.File(sweep_shard, "r") as f:
    for key, value in f.attrs.items():
        check_name(key, f"{sweep_shard.name}:/ attribute", isinstance(value, (str, bytes)), "sweep", True)
    if "parameters_total" not in f.attrs:
        fail(f"{sweep_shard.name}:/ has no attribute 'parameters_total'")
    result = f["result"]
    walk_hdf5(result, f"{sweep_shard.name}:/result", "sweep")
    shard_criticals = columns(result["criticals"])
    shard_points = columns(result["points"])
    for attribute in ("eps", "llc_mean", "parameter", "parameter_unit", "parameters_total"):
        if attribute not in result.attrs:
            fail(f"{sweep_shard.name}:/result has no attribute '{attribute}'")
with h5py.File(llc_shard, "r") as f:
    result = f["result"]
    walk_hdf5(result, f"{llc_shard.name}:/result", "llc")
    llc_shard_names = set(result.keys()) | set(result.attrs.keys()) | set(f.attrs.keys())  # root: status

# Shard columns that the tables deliberately leave out (per-point timings and search bookkeeping).
SHARD_ONLY = {"new_evaluations", "clip_scale", "seconds_apply", "seconds_loss"}
for column in shard_criticals:
    if column not in SHARD_ONLY and column not in tables["critical"]:
        fail(f"shard criticals column '{column}' is not a /tables/critical column {tables['critical']}")
for column in shard_points:
    if column not in SHARD_ONLY and column not in tables["curves"]:
        fail(f"shard points column '{column}' is not a /tables/curves column {tables['curves']}")
for name in ("eps", "critical_amount", "bits_per_weight", "predicted_bits"):
    if name not in shard_criticals or name not in tables["critical"]:
        fail(f"'{name}' missing from the shard's criticals {shard_criticals} or /tables/critical")
for name in ("amount", "effective_amount", "bits_per_weight"):
    if name not in shard_points or name not in tables["curves"]:
        fail(f"'{name}' missing from the shard's points {shard_points} or /tables/curves")

# --- query: the CSV header is the table's column list ----------------------------------------------------------
for name in ("llc", "critical", "curves"):
    text = subprocess.run([exe, "query", str(out / "results.h5"), "--table", name, "--format", "csv"],
                          capture_output=True, text=True, check=True).stdout
    header = next(csv.reader(io.StringIO(text)))
    if header != tables[name]:
        fail(f"query --table {name} header {header} differs from the table's columns {tables[name]}")

# --- --json of the commands ------------------------------------------------------------------------------------
model = sorted(p.name for p in suite.iterdir() if p.name.startswith("demo-"))[0]
checkpoint = str(suite / model / "step16")
sweep = run_json(["sweep", "--checkpoint", checkpoint, "--data", str(suite / "data/heldout"), "--method", "quant",
                  "--eps", "0.01,0.1", "--sequences", "0:8", "--seq-len", "16", "--batch", "4",
                  "--clip-search-evaluations", "2", "--llc", "10"])
walk_json(sweep, "sweep --json", "sweep")
json_criticals = sorted(sweep["criticals"][0].keys())  # nlohmann::json orders keys alphabetically
if json_criticals != sorted(shard_criticals):
    fail(f"sweep --json criticals keys {json_criticals} differ from the shard's criticals columns {shard_criticals}")
missing = [c for c in shard_points if c not in sweep["points"][0]]
if missing:
    fail(f"sweep --json points lack the shard's points columns {missing}")
for key in ("eps", "llc_mean", "parameters_total"):
    if key not in sweep:
        fail(f"sweep --json has no '{key}' (the shard's /result attribute)")
for key in ("parameter", "parameter_unit", "parameter_units"):
    if key not in sweep["method"]:
        fail(f"sweep --json method has no '{key}' (the shard's /result attribute)")

llc = run_json(["llc", "--checkpoint", checkpoint, "--data", str(suite / "data/train"), "--sequences", "0:64",
                "--seq-len", "16", "--batch", "4", "--chains", "2", "--draws", "4", "--init-batches", "1"])
walk_json(llc, "llc --json", "llc")
TABLE_ONLY = {"model", "step", "seconds", "checkpoint", "checkpoint_sha256", "shard"}
# The shard's state (root attribute `status`: done | failed); `llc --json` says the same with `failed` (0/1).
NOT_IN_LLC_JSON = {"status"}
for column in tables["llc"]:
    if column in TABLE_ONLY:
        continue
    if column not in llc and column not in NOT_IN_LLC_JSON:
        fail(f"/tables/llc column '{column}' is not a key of llc --json")
    if column not in llc_shard_names:
        fail(f"/tables/llc column '{column}' is not a dataset or attribute of the llc shard's /result")

calibrate = run_json(["calibrate", "--chains", "2", "--draws", "4"])
walk_json(calibrate, "calibrate --json", "calibrate")
for key in ("llc_mean", "llc_std", "llc_standard_error"):
    if key not in calibrate["result"]:
        fail(f"calibrate --json result has no '{key}'")

if failures:
    sys.exit(f"{len(failures)} naming disagreements (docs/hdf5-schema.md, 'One name per quantity')")
print(f"one name per quantity: {sweep_shard.name}, {llc_shard.name}, results.h5 tables {sorted(tables)}, "
      f"query headers, sweep/llc/calibrate --json agree; no retired name")
