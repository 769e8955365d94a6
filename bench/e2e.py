#!/usr/bin/env python3
"""The end-to-end benchmark: svcmodel as a user runs it, beside the peer renderers.

    cargo build --release
    python3 bench/e2e.py                      # N = 1,000 and 10,000, 3 runs each
    python3 bench/e2e.py --sizes 1000,10000,40000 --runs 5

For each N, `bench/peers/gen-svc.py` writes a model of N services that asks for the
same Kubernetes objects as the peers (bench/peers/README.md). Each run, in turn:
`svcmodel render --target kubernetes -o DIR MODEL` into a new folder; the same with
the target's per-service manifests joined into one file (`join` in a project's
`templates/kubernetes/target.toml`); the same render as one stream into a file
(`--stdout`); `svcmodel place MODEL`, and each peer
that is installed: Jinja2 (`pip install jinja2`) and go-jsonnet (`pip install
gojsonnet`). It prints medians of wall time and peak memory (the
child's maximum resident set) and svcmodel's time over Jinja2's.

The file system matters. On ext4 without a journal (some virtual machines' root
disks), the kernel skips inodes freed in the last minute or so when it allocates new
ones, and that scan grows with how many were freed: a render that makes 20,000 files
and folders just after the previous run's were deleted spends seconds in the kernel
(`recently_deleted` in a profile). `--scratch DIR` puts models and outputs on the file
system of your choice, e.g. a journaled ext4 mounted from an image:

    truncate -s 12G /tmp/e2e.img && mkfs.ext4 -q -i 8192 /tmp/e2e.img
    mount -o loop /tmp/e2e.img /mnt/e2e && python3 bench/e2e.py --scratch /mnt/e2e
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"


def run(command, cwd=None, stdout_path=None):
    """Runs `command`, its output discarded or written to `stdout_path`: (seconds, peak
    MiB), or None if it failed."""
    start = time.perf_counter()
    stdout = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE)
    if stdout_path:
        stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(f"  failed ({process.returncode}): {' '.join(map(str, command))}\n{stderr[-2000:]}",
              file=sys.stderr)
        return None
    return seconds, usage.ru_maxrss / 1024


def has_module(name):
    probe = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True)
    return probe.returncode == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--svcmodel", default=str(HERE.parent / "target/release/svcmodel"))
    parser.add_argument("--scratch", default=None,
                        help="the folder to write models and outputs in (default: the "
                             "system's temporary folder); the file system matters: see the top of this script")
    args = parser.parse_args()
    svcmodel = Path(args.svcmodel)
    if not svcmodel.exists():
        sys.exit(f"no {svcmodel}: run `cargo build --release` first")
    peers = [("jinja2", "jinja2", "jinja-render.py"), ("go-jsonnet", "_gojsonnet", "gojsonnet-render.py")]
    peers = [(name, script) for name, module, script in peers if has_module(module)]
    missing = {"jinja2", "go-jsonnet"} - {name for name, _ in peers}
    if missing:
        print(f"not installed, left out: {', '.join(sorted(missing))}")

    rows = []
    with tempfile.TemporaryDirectory(prefix="svcmodel-e2e-", dir=args.scratch) as scratch:
        scratch = Path(scratch)
        for n in [int(s) for s in args.sizes.split(",")]:
            model = scratch / f"model-{n}"
            subprocess.run([sys.executable, PEERS / "gen-svc.py", str(n), model],
                           check=True, stdout=subprocess.DEVNULL)
            # The same model with the Kubernetes target told to join every service's
            # manifest into one file (`join` in target.toml): the layout's cost.
            joined = scratch / f"model-{n}-joined"
            shutil.copytree(model, joined)
            manifest = (HERE.parent / "targets/templates/kubernetes/target.toml").read_text()
            per_service = 'path     = "{{service.name}}/manifest.yaml"'
            assert per_service in manifest, "the built-in Kubernetes layout changed"
            (joined / "templates/kubernetes").mkdir(parents=True)
            (joined / "templates/kubernetes/target.toml").write_text(manifest.replace(
                per_service, 'path     = "manifests.yaml"\njoin     = "---\\n"'))
            timings = {"render -o": [], "render -o join": [], "render >file": [],
                       "place": []} | {name: [] for name, _ in peers}
            for i in range(args.runs):
                out = scratch / f"out-{n}-{i}"
                timings["render -o"].append(run(
                    [svcmodel, "--color", "never", "render", "--target", "kubernetes",
                     "-o", out, model]))
                shutil.rmtree(out, ignore_errors=True)
                timings["render -o join"].append(run(
                    [svcmodel, "--color", "never", "render", "--target", "kubernetes",
                     "-o", out, joined]))
                shutil.rmtree(out, ignore_errors=True)
                # The same files as one stream, the way the peers write theirs: what
                # rendering costs without a folder and a file per service.
                stream = scratch / f"stream-{n}-{i}.txt"
                timings["render >file"].append(run(
                    [svcmodel, "--color", "never", "render", "--target", "kubernetes",
                     "--stdout", model], stdout_path=stream))
                stream.unlink(missing_ok=True)
                timings["place"].append(run([svcmodel, "--color", "never", "place", model]))
                for name, script in peers:
                    target = scratch / f"{name}-{n}-{i}.yaml"
                    timings[name].append(run([sys.executable, PEERS / script, str(n), target],
                                             cwd=PEERS))
                    target.unlink(missing_ok=True)
            medians = {}
            for what, results in timings.items():
                done = [r for r in results if r is not None]
                if done:
                    medians[what] = (statistics.median(t for t, _ in done),
                                     statistics.median(m for _, m in done))
            rows.append((n, medians))
            shutil.rmtree(model, ignore_errors=True)
            shutil.rmtree(joined, ignore_errors=True)

    print(f"medians of {args.runs} runs, each tool in turn")
    print(f"{'N':>8}  {'tool':<15} {'seconds':>9} {'peak MiB':>9}  {'/ jinja2':>8}")
    for n, medians in rows:
        floor = medians.get("jinja2", (None,))[0]
        for what, (seconds, mib) in medians.items():
            ratio = f"{seconds / floor:7.1f}x" if floor and what != "jinja2" else ""
            print(f"{n:>8}  {what:<15} {seconds:>9.2f} {mib:>9.0f}  {ratio:>8}")


if __name__ == "__main__":
    main()
