#!/usr/bin/env python3
"""Every option of the task tables, against the commands that declare it.

    check_cli_options.py LLCPRESS

`llcpress options --json` lists the tables (key, CLI flag, default, unit, per-command defaults). For each
command that declares a table (all three: common; llc and calibrate: llc; sweep: compression) the command's own --help must show
each flag with that command's default and the unit, and a bad value must be reported under the flag's name.
"""
import json
import re
import subprocess
import sys

COMMANDS = {"llc": ["common", "llc"], "calibrate": ["common", "llc"], "sweep": ["common", "compression"]}


def help_entries(exe, command):
    """{flag: the flag's --help entry, wrapped lines joined}."""
    text = subprocess.run([exe, command, "--help"], capture_output=True, text=True, check=True).stdout
    entries, current = {}, None
    for line in text.splitlines():
        match = re.match(r"^  (--[a-z0-9-]+)(.*)$", line)
        if match:
            current = match.group(1)
            entries[current] = match.group(2)
        elif current and line.startswith("   "):
            entries[current] += " " + line.strip()
        else:
            current = None
    return {flag: " ".join(entry.split()) for flag, entry in entries.items()}


def shown_default(entry):
    """The `(=X)` Boost prints after the argument, ignoring a switch's implicit `[=arg(=true)]`."""
    match = re.match(r"^(?:\[=arg\(=[^)]*\)\] ?)?(?:arg ?)?(?:\(=([^)]*)\))?", entry)
    return match.group(1) if match else None


def main():
    exe = sys.argv[1]
    tables = {t["table"]: t for t in json.loads(subprocess.run([exe, "options", "--json"], capture_output=True,
                                                                text=True, check=True).stdout)}
    checked = 0
    for command, names in COMMANDS.items():
        entries = help_entries(exe, command)
        rows = [row for name in names for row in tables[name]["options"] if row["cli"]]
        for row in rows:
            flag = row["cli"]
            assert flag in entries, f"llcpress {command} --help has no {flag}"
            expected = row["command_defaults"].get(command, {}).get("default", row["default"])
            got = shown_default(entries[flag])
            if row["has_default"] and expected != "":
                assert got == expected, f"llcpress {command} {flag}: --help shows default {got!r}, table {expected!r}"
            else:  # no default, or an empty one (Boost prints nothing for either)
                assert got is None, f"llcpress {command} {flag}: --help shows default {got!r}, table has none"
            if row["unit"] not in ("", "1"):
                assert f"[{row['unit']}]" in entries[flag], f"llcpress {command} {flag}: unit [{row['unit']}] missing"
            checked += 1
    print(f"{checked} (command, option) pairs agree with `llcpress options --json`")

    # A bad value is reported under the flag the user typed, before any file is opened.
    for command, arguments, flag in [
        ("llc", ["--checkpoint", "none", "--data", "none", "--gamma=-1"], "--gamma"),
        ("llc", ["--checkpoint", "none", "--data", "none", "--burn-in=-5"], "--burn-in"),
        ("calibrate", ["--steps-between-draws=0"], "--steps-between-draws"),
        ("calibrate", ["--threads=-2"], "--threads"),
        ("sweep", ["--checkpoint", "none", "--data", "none", "--method", "noise", "--noise-draws=0"], "--noise-draws"),
    ]:
        run = subprocess.run([exe, command, *arguments], capture_output=True, text=True)
        message = run.stdout + run.stderr
        assert run.returncode == 2 and f"error: {flag}: " in message, (command, arguments, run.returncode, message)
        print(f"llcpress {command} {' '.join(arguments)}: {message.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
