#!/usr/bin/env python3
"""make bench, part 2: what many probes cost.

N services x 10 TCP checks each, every 10 s, against a local listener, with
ostiary pushing to the Consul agent simulator.  For each size it reports
ostiary's CPU (percent of one core, from /proc/PID/stat) and memory
(Private_Dirty and RSS), and how the cost grows from one size to the next.

Target (issue #3): under 5% of one core at 10,000 checks, cost linear.
Usage: checks.py OSTIARY [--ttl D] [SIZE...]   (sizes in checks, default 100 1000 10000)
  --ttl D  give every check this TTL instead of the derived one (3 x interval +
           timeout = 40 s, pushed every 20 s): fewer pushes, slower detection of
           a dead ostiary.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "..", "sim", "consul_sim.py")
CHECKS_PER_SERVICE = 10
INTERVAL = "10s"
WARMUP_S = 15      # registration plus the first runs spread over one interval
WINDOW_S = 30      # three full rounds of probes
TICKS = os.sysconf("SC_CLK_TCK")


def tcp_sink():
    """A listener that accepts and closes: the probes' target."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(4096)

    def serve():
        while True:
            conn, _ = server.accept()
            conn.close()
    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def start_sim():
    proc = subprocess.Popen([sys.executable, SIM, "--port", "0", "--control-port", "0"],
                            stdout=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())


def control(ready, method, path):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (ready["control_port"], path),
                                 method=method)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"null")


def write_config(directory, nchecks, sink_port, ttl=None):
    services = []
    extra = ' ttl = "%s";' % ttl if ttl else ""
    for s in range(nchecks // CHECKS_PER_SERVICE):
        checks = ",\n".join(
            '      { id = "svc%d-tcp%d"; type = "tcp"; tcp = "127.0.0.1:%d"; interval = "%s";%s }'
            % (s, c, sink_port, INTERVAL, extra) for c in range(CHECKS_PER_SERVICE))
        services.append('  { name = "svc%d"; checks = (\n%s\n    ); }' % (s, checks))
    path = os.path.join(directory, "bench-%d.conf" % nchecks)
    with open(path, "w") as f:
        f.write('command = ["sleep", "3600"];\nservices = (\n%s\n);\n' % ",\n".join(services))
    return path


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kb(pid):
    values = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Private_Dirty"):
                values[key] = int(rest.split()[0])
    return values


def passing_checks(ready):
    state = control(ready, "GET", "/state")
    return sum(1 for c in state["checks"].values() if c["Status"] == "passing")


def measure(ostiary, ready, config, nchecks):
    proc = subprocess.Popen([ostiary, "--http-addr", "127.0.0.1:%d" % ready["agent_port"],
                             "-c", config], stderr=subprocess.DEVNULL)
    try:
        time.sleep(WARMUP_S)  # warm-up until the window: registration and the first runs
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(WINDOW_S)  # the measurement window: let it run until it ends
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        mem = memory_kb(proc.pid)
        passing = passing_checks(ready)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    return 100.0 * (cpu1 - cpu0) / (t1 - t0), mem, passing


def main():
    ostiary = os.path.abspath(sys.argv[1])
    args = sys.argv[2:]
    ttl = None
    if args[:1] == ["--ttl"]:
        ttl, args = args[1], args[2:]
    sizes = [int(a) for a in args] or [100, 1000, 10000]
    port = tcp_sink()
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for n in sizes:
            sim, ready = start_sim()
            try:
                pct, mem, passing = measure(ostiary, ready,
                                            write_config(directory, n, port, ttl), n)
            finally:
                sim.send_signal(signal.SIGTERM)
                sim.wait(timeout=30)
            results.append((n, pct, mem, passing))
    print("bench: %d TCP checks per service, every %s, TTL %s, %d s window" %
          (CHECKS_PER_SERVICE, INTERVAL, ttl or "derived (40s)", WINDOW_S))
    print("%8s %10s %14s %10s %10s %12s" %
          ("checks", "CPU %core", "us CPU/check/s", "Dirty kB", "RSS kB", "passing"))
    for n, pct, mem, passing in results:
        print("%8d %10.2f %14.2f %10d %10d %7d/%d" % (n, pct, pct * 1e4 / n,
                                                    mem.get("Private_Dirty", -1),
                                                    mem.get("Rss", -1), passing, n))
    big = [r for r in results if r[0] == 10000]
    ok = all(p == n for n, _, _, p in results) and (not big or big[0][1] < 5.0)
    print("bench: %s" % ("targets met" if ok else "TARGET MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
