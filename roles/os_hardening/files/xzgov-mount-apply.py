#!/usr/bin/python3
"""Remount file systems with the options /etc/fstab now asks for (xzgov os_hardening).

    xzgov-mount-apply.py '<json [{"target": "/tmp", "options": ["nodev", ...], "bind": true}]>' [--dry-run]

For each target the options missing from the live mount (/proc/self/mountinfo: per-mount flags and
super-block options) are applied with `mount -o remount,<options>`. A target that is not a mount point is
bind-mounted onto itself first when "bind" is set (its content stays; the fstab entry takes over at the next
boot). Prints one JSON object {written, failed, unchanged}; exit 0. Nothing is done for a target whose
options are already in place, so a second run writes nothing.
"""
import json
import subprocess
import sys

EQUIVALENT = {"hidepid=2": "hidepid=invisible", "hidepid=1": "hidepid=noaccess", "hidepid=0": "hidepid=off"}


def live_options(target):
    """Options of the top-most mount on target (per-mount flags + super-block options), or None."""
    found = None
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) < 10 or fields[4].encode().decode("unicode_escape") != target:
                continue
            separator = fields.index("-")
            found = set(fields[5].split(",")) | set(fields[separator + 3].split(","))
    if found is None:
        return None
    return {EQUIVALENT.get(option, option) for option in found}


def run(argv):
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode == 0, (done.stderr or done.stdout).strip()


def main():
    wanted = json.loads(sys.argv[1])
    dry_run = "--dry-run" in sys.argv[2:]
    result = {"written": [], "failed": [], "unchanged": []}
    for entry in wanted:
        target = entry["target"]
        options = [EQUIVALENT.get(option, option) for option in entry["options"]]
        current = live_options(target)
        if current is not None and all(option in current for option in options):
            result["unchanged"].append(target)
            continue
        if dry_run:
            result["written"].append(target)
            continue
        remount = "remount," + ("bind," if current is None else "") + ",".join(options)
        if current is None:
            if not entry.get("bind"):
                result["failed"].append(f"{target}: not a mount point")
                continue
            ok, why = run(["mount", "--bind", target, target])
            if not ok:
                result["failed"].append(f"{target}: bind mount failed: {why}")
                continue
        ok, why = run(["mount", "-o", remount, target])
        after = live_options(target) or set()
        missing = [option for option in options if option not in after]
        if not ok or missing:
            result["failed"].append(f"{target}: mount -o {remount} {'failed: ' + why if not ok else ''}"
                                    f"{'; still missing ' + ','.join(missing) if missing else ''}")
            continue
        result["written"].append(target)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
