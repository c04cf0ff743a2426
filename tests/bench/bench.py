#!/usr/bin/env python3
"""make bench: the cost of a heartbeat.

Runs, in one go and against the same Consul agent simulator:
  1. bare-loop: one reused libcurl handle doing the heartbeat PUT every 10 ms;
  2. ostiary supervising `sleep` with a 10 ms heartbeat;
and reports CPU per heartbeat for both (from /proc/PID/stat and getrusage),
their ratio, and ostiary's Private_Dirty memory (/proc/PID/smaps_rollup).

Targets (issue #2): ratio <= 1.5, Private_Dirty <= 2 MiB.
Usage: bench.py OSTIARY BARE_LOOP [SECONDS]
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "..", "sim", "consul_sim.py")
INTERVAL_MS = 10
TICKS = os.sysconf("SC_CLK_TCK")


def start_sim():
    proc = subprocess.Popen([sys.executable, SIM, "--port", "0", "--control-port", "0"],
                            stdout=subprocess.PIPE, text=True)
    ready = json.loads(proc.stdout.readline())
    return proc, ready


def agent(ready, method, path, body=None):
    url = "http://127.0.0.1:%d%s" % (ready["agent_port"], path)
    req = urllib.request.Request(url, data=body.encode() if body else None, method=method)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.read()


def control(ready, method, path):
    url = "http://127.0.0.1:%d%s" % (ready["control_port"], path)
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read() or b"null")


def count_pushes(ready):
    return sum(1 for r in control(ready, "GET", "/log")
               if r["path"].startswith("/v1/agent/check/update/") and r["status"] == 200)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS   # utime + stime


def private_dirty_kb(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Private_Dirty:"):
                return int(line.split()[1])
    return -1


def run_bare(bare, ready, count):
    agent(ready, "PUT", "/v1/agent/service/register",
          json.dumps({"ID": "bare", "Name": "bare", "Check": {"CheckID": "bare:ttl", "TTL": "10s"}}))
    out = subprocess.run([bare, "127.0.0.1:%d" % ready["agent_port"], "bare:ttl", str(count),
                          str(INTERVAL_MS)], capture_output=True, text=True, check=True)
    n, ok, cpu = out.stdout.split()
    return int(ok), float(cpu)


def run_ostiary(ostiary, ready, seconds):
    proc = subprocess.Popen([ostiary, "--http-addr", "127.0.0.1:%d" % ready["agent_port"],
                             "--ttl", "2s", "--heartbeat", "%dms" % INTERVAL_MS,
                             "bench", "--", "sleep", "3600"], stderr=subprocess.DEVNULL)
    try:
        # Warm-up: registered and pushing steadily (poll with a deadline).
        deadline = time.monotonic() + 10
        while count_pushes(ready) < 20:
            if time.monotonic() > deadline:
                raise SystemExit("ostiary did not start pushing")
            time.sleep(0.05)  # poll interval until the deadline
        pushes0, cpu0 = count_pushes(ready), cpu_seconds(proc.pid)
        time.sleep(seconds)  # the measurement window: let it run until it ends
        pushes1, cpu1 = count_pushes(ready), cpu_seconds(proc.pid)
        dirty = private_dirty_kb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    return pushes1 - pushes0, cpu1 - cpu0, dirty


def main():
    ostiary, bare = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 20
    sim, ready = start_sim()
    try:
        count = int(seconds * 1000 / INTERVAL_MS)
        bare_ok, bare_cpu = run_bare(bare, ready, count)
        control(ready, "DELETE", "/log")
        pushes, cpu, dirty = run_ostiary(ostiary, ready, seconds)
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=10)
    bare_us = bare_cpu / max(bare_ok, 1) * 1e6
    ostiary_us = cpu / max(pushes, 1) * 1e6
    ratio = ostiary_us / bare_us if bare_us > 0 else float("inf")
    print("bench: heartbeat every %d ms for %.0f s against the simulator" % (INTERVAL_MS, seconds))
    print("bare libcurl loop : %6d PUTs       %7.1f us CPU each" % (bare_ok, bare_us))
    print("ostiary           : %6d heartbeats %7.1f us CPU each  (%.2fx the bare loop; target <= 1.5x)"
          % (pushes, ostiary_us, ratio))
    print("ostiary memory    : Private_Dirty %d kB (target <= 2048 kB)" % dirty)
    ok = ratio <= 1.5 and 0 <= dirty <= 2048
    print("bench: %s" % ("targets met" if ok else "TARGET MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
