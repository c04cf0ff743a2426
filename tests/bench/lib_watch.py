#!/usr/bin/env python3
"""make bench: the library's watches against the Consul agent simulator.

  1. one idle kv-watch for IDLE_SECONDS (default 60): its CPU time and how
     many requests it made (a few blocking queries, not a loop);
  2. latency from a KV write (the PUT sent) to kv-watch's line on stdout,
     over WRITES (default 200) writes 150 ms apart (beyond the token
     bucket's one request per 100 ms): median and p99;
  3. WATCHES (default 1000) watches on one multi handle (tests/bench/
     watch-many): CPU while idle and memory, per watch.

Usage: lib_watch.py EXAMPLES_DIR WATCH_MANY [IDLE_SECONDS] [WRITES] [WATCHES]
"""
import json
import os
import resource
import select
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "..", "sim", "consul_sim.py")
TICKS = os.sysconf("SC_CLK_TCK")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_sim():
    proc = subprocess.Popen([sys.executable, SIM, "--port", "0", "--control-port", "0"],
                            stdout=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())


def http(port, method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=body.encode() if body is not None else None,
                                 method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def requests_to(ready, prefix):
    log = json.loads(http(ready["control_port"], "GET", "/log"))
    return sum(1 for e in log if e["method"] == "GET" and e["path"].startswith(prefix))


def read_line(proc, timeout):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError("no line from %s within %ss" % (proc.args[0], timeout))
    return proc.stdout.readline()


def idle_watch(examples, ready, seconds):
    port = ready["agent_port"]
    http(port, "PUT", "/v1/kv/bench/idle", "v")
    proc = subprocess.Popen([os.path.join(examples, "kv-watch"), "-a", "127.0.0.1:%d" % port,
                             "bench/idle"], stdout=subprocess.PIPE, text=True)
    read_line(proc, 10)
    before_cpu, before_req = cpu_seconds(proc.pid), requests_to(ready, "/v1/kv/bench/idle")
    time.sleep(seconds)
    cpu = cpu_seconds(proc.pid) - before_cpu
    reqs = requests_to(ready, "/v1/kv/bench/idle") - before_req
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    print("idle watch: %.3f s CPU over %d s (%.3f%%), %d requests in that time"
          % (cpu, seconds, 100 * cpu / seconds, reqs))


def latency(examples, ready, writes):
    port = ready["agent_port"]
    http(port, "PUT", "/v1/kv/bench/lat", "start")
    proc = subprocess.Popen([os.path.join(examples, "kv-watch"), "-a", "127.0.0.1:%d" % port,
                             "bench/lat"], stdout=subprocess.PIPE, text=True, bufsize=1)
    read_line(proc, 10)
    samples = []
    for i in range(writes):
        # The watch's token bucket allows one request per 100 ms after a
        # burst of 2: writes further apart than that see no rate limit.
        time.sleep(0.15)
        start = time.monotonic()
        http(port, "PUT", "/v1/kv/bench/lat", "v%d" % i)
        line = read_line(proc, 10)
        samples.append((time.monotonic() - start) * 1000)
        if line.strip() != "bench/lat=v%d" % i:
            raise RuntimeError("unexpected line %r" % line)
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print("write -> kv-watch line: median %.2f ms, p99 %.2f ms, max %.2f ms over %d writes"
          % (statistics.median(samples), p99, samples[-1], writes))


def many(watch_many, ready, n, seconds=10):
    port = ready["agent_port"]
    proc = subprocess.Popen([watch_many, "-a", "127.0.0.1:%d" % port, str(n)],
                            stdout=subprocess.PIPE, text=True)
    base_rss = int(read_line(proc, 10).split()[1])
    start = time.monotonic()
    line = read_line(proc, 120)
    setup = time.monotonic() - start
    rss = int(line.split()[2])
    time.sleep(2)  # the second, blocking requests go out after the first answers
    before = cpu_seconds(proc.pid)
    time.sleep(seconds)
    cpu = cpu_seconds(proc.pid) - before
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    print("%d watches on one multi handle: all answered in %.1f s; idle CPU %.3f s over %d s "
          "(%.1f us/s per watch); RSS %d KiB -> %d KiB (%.1f KiB per watch)"
          % (n, setup, cpu, seconds, cpu / seconds / n * 1e6, base_rss, rss,
             (rss - base_rss) / n))


def main():
    examples, watch_many = sys.argv[1], sys.argv[2]
    idle = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else 60
    writes = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else 200
    watches = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] else 1000
    raise_fd_limit()
    sim, ready = start_sim()
    try:
        latency(examples, ready, writes)
        many(watch_many, ready, watches)
        idle_watch(examples, ready, idle)
    finally:
        sim.terminate()
        sim.wait(10)


if __name__ == "__main__":
    main()
