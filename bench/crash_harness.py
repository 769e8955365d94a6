#!/usr/bin/env python3
"""Crash-and-concurrency harness for svcmodel's deploy half (issue 12). Not run in CI.

    cargo build --release
    python3 bench/crash_harness.py [--binary target/release/svcmodel] [--trials 50]

Part 1 (crashes): on a copy of the example shop (its own folder, free ports), each
trial runs one of deploy, an update whose new revision fails its health check (so
the wave rolls back), or destroy, and SIGKILLs svcmodel at a random instant. Then:
  - every state file and backup must parse;
  - processes carrying the project's mark that no state records are counted (a kill
    between a start and its save leaves such a process: the next run must find it);
  - the next `deploy` must succeed and `reconcile` find no drift, with every marked
    process recorded and exactly one process group per service.
Part 2 (locks): a deploy is SIGKILLed while it holds the lock, then ten deploys start
at once with --lock-timeout 0: exactly one may hold the lock, the others exit 7.

Prints one line per trial and a summary; exits 1 if any invariant failed.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = {"SVCMODEL_SECRET_PAYMENTS_PROVIDER_API_KEY": "harness-key"}
SHOP_PORTS = [18080, 18090, 18110, 18120, 18130]
SERVICES = ["admin-console", "orders", "payments", "products", "storefront"]


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def make_shop(root):
    shop = os.path.join(root, "shop")
    os.makedirs(os.path.join(shop, "bin"))
    open(os.path.join(root, "svcmodel.toml"), "w").close()
    mapping = dict(zip(SHOP_PORTS, free_ports(len(SHOP_PORTS))))
    source = os.path.join(REPO, "examples", "shop")
    for name in os.listdir(source):
        if not name.endswith(".svc"):
            continue
        text = open(os.path.join(source, name)).read()
        if name == "shop.svc" and "\n# The shop in production" in text:
            text = text[: text.index("\n# The shop in production")]
        for old, new in mapping.items():
            text = text.replace(f"port = {old}", f"port = {new}")
        open(os.path.join(shop, name), "w").write(text)
    shutil.copy(os.path.join(source, "bin", "demo-service"), os.path.join(shop, "bin"))
    return shop


class Harness:
    def __init__(self, binary, root):
        self.binary = binary
        self.root = root
        self.shop = make_shop(root)
        store = os.path.realpath(os.path.join(root, ".svcmodel"))
        os.makedirs(store, exist_ok=True)
        self.project = hashlib.sha256(store.encode()).hexdigest()[:12]
        self.products = os.path.join(self.shop, "products.svc")
        self.plain_products = open(self.products).read()

    def command(self, *args):
        return [self.binary, "--color", "never", *args]

    def env(self):
        env = dict(os.environ)
        env.update(SECRET)
        return env

    def run(self, *args, timeout=120):
        return subprocess.run(
            self.command(*args), cwd=self.root, env=self.env(), capture_output=True,
            text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def spawn(self, *args):
        return subprocess.Popen(
            self.command(*args), cwd=self.root, env=self.env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def set_products(self, failing):
        text = self.plain_products
        if failing:
            text = text.replace(
                "config {", 'config {\n    env "DEMO_UNHEALTHY" = "1"\n    env "TRIAL" = "%d"'
                % random.randrange(1 << 30), 1)
        else:
            text = text.replace("config {", 'config {\n    env "TRIAL" = "%d"'
                                % random.randrange(1 << 30), 1)
        open(self.products, "w").write(text)

    def states(self):
        """Every state file and backup of the project, parsed; raises if one does not."""
        folder = os.path.join(self.root, ".svcmodel", "state")
        parsed = {}
        if not os.path.isdir(folder):
            return parsed
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json") or ".json.backup" in name:
                with open(os.path.join(folder, name)) as f:
                    parsed[name] = json.load(f)
        return parsed

    def marked_groups(self):
        """Process group id -> mark, for the live processes with this project's mark."""
        groups = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                environ = open(f"/proc/{entry}/environ", "rb").read().split(b"\0")
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] in ("Z", "X"):
                continue
            for item in environ:
                if item.startswith(b"SVCMODEL_MARK="):
                    mark = item.split(b"=", 1)[1].decode()
                    if mark.startswith(self.project + ":"):
                        groups[int(fields[2])] = mark
        return groups

    def recorded_groups(self):
        state = self.states().get("local.json")
        ids = set()
        if state:
            for record in state["services"].values():
                ids.add(record["engine_id"])
            for pending in state.get("pending", []):
                if pending.get("engine_id"):
                    ids.add(pending["engine_id"])
        return {int(i.split(":")[1]) for i in ids if i.startswith("pid:")}

    def unrecorded(self):
        return sorted(set(self.marked_groups()) - self.recorded_groups())

    def cleanup(self):
        self.run("destroy", "-e", "local", "--yes", "shop")
        for group in self.marked_groups():
            try:
                os.killpg(group, signal.SIGKILL)
            except OSError:
                pass


def crash_trials(h, trials, log):
    failures = 0
    found_after_kill = 0
    operations = ["deploy", "update", "rollback", "destroy"]
    for trial in range(trials):
        operation = operations[trial % len(operations)]
        if operation == "destroy":
            h.set_products(False)
            h.run("deploy", "-e", "local", "--yes", "shop")
            args = ("destroy", "-e", "local", "--yes", "shop")
        elif operation == "deploy":
            # From nothing: every wave starts, so a kill lands among the starts.
            h.run("destroy", "-e", "local", "--yes", "shop")
            h.set_products(False)
            args = ("deploy", "-e", "local", "--yes", "shop")
        else:
            h.set_products(operation == "rollback")
            args = ("deploy", "-e", "local", "--yes", "--timeout", "3", "shop")
        delay = random.uniform(0.0, 1.5)
        process = h.spawn(*args)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        problems = []
        try:
            h.states()
        except (OSError, ValueError) as error:
            problems.append(f"unparsable state: {error}")
        left = h.unrecorded()
        found_after_kill += len(left)
        h.set_products(False)
        converge = h.run("deploy", "-e", "local", "--yes", "shop")
        if converge.returncode != 0:
            problems.append(f"next deploy exited {converge.returncode}: {converge.stderr[-400:]}")
        reconcile = h.run("reconcile", "-e", "local", "shop")
        if reconcile.returncode != 0:
            problems.append(f"reconcile exited {reconcile.returncode}")
        after = h.unrecorded()
        if after:
            problems.append(f"unrecorded after the next run: {after}")
        groups = h.marked_groups()
        if len(groups) != len(SERVICES):
            problems.append(f"{len(groups)} marked process groups, not {len(SERVICES)}")
        try:
            h.states()
        except (OSError, ValueError) as error:
            problems.append(f"unparsable state after converging: {error}")
        failures += bool(problems)
        log(f"crash {trial + 1:2}: {operation:8} killed at {delay:4.2f} s: "
            f"{len(left)} unrecorded found, " + ("; ".join(problems) or "converged"))
    return failures, found_after_kill


def lock_trials(h, trials, log):
    failures = 0
    for trial in range(trials):
        h.set_products(False)
        holder = h.spawn("deploy", "-e", "local", "--yes", "shop")
        time.sleep(random.uniform(0.05, 0.4))
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        # Ten at once, none waiting: one takes the dead holder's lock, the rest find it held.
        h.set_products(False)
        runs = [h.spawn("deploy", "-e", "local", "--yes", "--lock-timeout", "0", "shop")
                for _ in range(10)]
        codes = []
        took_over = 0
        for run in runs:
            _, err = run.communicate(timeout=120)
            codes.append(run.returncode)
            took_over += "took over" in err
        holders = sum(code != 7 for code in codes)
        ok = holders == 1 and took_over <= 1
        failures += not ok
        log(f"locks {trial + 1:2}: exit codes {sorted(codes)}: {holders} holder(s), "
            f"{took_over} take-over(s)" + ("" if ok else "  <-- FAILED"))
        # Whatever that run left, the next converges.
        h.run("deploy", "-e", "local", "--yes", "shop")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=os.path.join(REPO, "target", "release", "svcmodel"))
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--lock-trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    random.seed(args.seed)
    root = tempfile.mkdtemp(prefix="svcmodel-harness-")
    h = Harness(os.path.abspath(args.binary), root)
    started = time.time()
    try:
        crash_failures, found = crash_trials(h, args.trials, print)
        lock_failures = lock_trials(h, args.lock_trials, print)
    finally:
        h.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    print(f"\ncrashes: {args.trials} trials, {crash_failures} failed; "
          f"{found} unrecorded processes found after kills, all stopped by the next run"
          if crash_failures == 0 else
          f"\ncrashes: {args.trials} trials, {crash_failures} failed")
    print(f"locks: {args.lock_trials} trials of 10 concurrent deploys, {lock_failures} failed")
    print(f"took {time.time() - started:.0f} s")
    sys.exit(1 if crash_failures or lock_failures else 0)


if __name__ == "__main__":
    main()
