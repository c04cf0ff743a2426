#!/usr/bin/env python3
"""make bench: ostiary's configuration from Consul KV, against the simulator.

  1. from a KV write (the PUT sent) to the new command's start, over WRITES
     (default 20) writes, with --kv-wait 0 and --drain-delay 0 (the drain step,
     maintenance, still goes to the agent and back): median and spread; next
     to it, in the same run, the floor: the library's kv-watch example seeing
     the same write (a blocking query's answer, nothing started);
  2. ostiary's idle CPU with 10 watched prefixes over IDLE_SECONDS (default
     60), next to the same ostiary without KV, alternated; and how many KV
     requests it made meanwhile (blocking queries: a few, not a poll).

Usage: kv_config.py OSTIARY EXAMPLES_DIR [IDLE_SECONDS] [WRITES]
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import time

from lib_watch import cpu_seconds, http, read_line, start_sim

PREFIXES = 10


def kv_requests(ready):
    log = json.loads(http(ready["control_port"], "GET", "/log"))
    return sum(1 for e in log if e["path"].startswith("/v1/kv/") and e["method"] == "GET")


def spread(samples):
    samples = sorted(samples)
    return "median %.1f ms (min %.1f, max %.1f)" % (statistics.median(samples), samples[0],
                                                    samples[-1])


def write_to_line(proc, port, key, expect, writes):
    """Latency from each PUT of key (the values 1..writes) to proc's line
    expect % value; a pause first, so the reader is blocking again."""
    samples = []
    for i in range(1, writes + 1):
        time.sleep(0.3)
        start = time.monotonic()
        http(port, "PUT", "/v1/kv/" + key, str(i))
        line = read_line(proc, 10).strip()
        samples.append((time.monotonic() - start) * 1000)
        if line != expect % i:
            raise RuntimeError("unexpected line %r" % line)
    return samples


def ostiary_restart_latency(ostiary, ready, writes):
    port = ready["agent_port"]
    http(port, "PUT", "/v1/kv/lat/n", "0")
    proc = subprocess.Popen([ostiary, "--http-addr", "127.0.0.1:%d" % port, "--kv-env", "lat/",
                             "--kv-wait", "0", "--drain-delay", "0", "bench", "--", "sh", "-c",
                             'echo "start $N"; exec sleep 1000'],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            bufsize=1)
    try:
        if read_line(proc, 10).strip() != "start 0":
            raise RuntimeError("the command did not start with N=0")
        return write_to_line(proc, port, "lat/n", "start %d", writes)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def watch_latency(examples, ready, writes):
    port = ready["agent_port"]
    http(port, "PUT", "/v1/kv/floor/n", "0")
    proc = subprocess.Popen([os.path.join(examples, "kv-watch"), "-a", "127.0.0.1:%d" % port,
                             "floor/n"], stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        read_line(proc, 10)
        return write_to_line(proc, port, "floor/n", "floor/n=%d", writes)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def idle_cpu(ostiary, ready, seconds, with_kv):
    port = ready["agent_port"]
    args = [ostiary, "--http-addr", "127.0.0.1:%d" % port]
    if with_kv:
        for i in range(PREFIXES):
            http(port, "PUT", "/v1/kv/idle%d/key" % i, "v")
            args += ["--kv-env", "idle%d/" % i]
    proc = subprocess.Popen(args + ["idle", "--", "sleep", "100000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)  # started, registered, every watch blocking
        before_cpu, before_req = cpu_seconds(proc.pid), kv_requests(ready)
        time.sleep(seconds)
        return cpu_seconds(proc.pid) - before_cpu, kv_requests(ready) - before_req
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def main():
    ostiary, examples = sys.argv[1], sys.argv[2]
    idle = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else 60
    writes = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else 20
    sim, ready = start_sim()
    try:
        floor = watch_latency(examples, ready, writes)
        own = ostiary_restart_latency(ostiary, ready, writes)
        print("KV write -> new command started (--kv-wait 0, --drain-delay 0): %s over %d "
              "writes" % (spread(own), writes))
        print("  floor, KV write -> kv-watch's line (the blocking query's answer): %s; "
              "ostiary adds %.1f ms (drain step, stop, reap, start)"
              % (spread(floor), statistics.median(own) - statistics.median(floor)))
        plain_cpu, _ = idle_cpu(ostiary, ready, idle // 2, False)
        kv_cpu, reqs = idle_cpu(ostiary, ready, idle, True)
        plain_cpu2, _ = idle_cpu(ostiary, ready, idle // 2, False)
        plain = (plain_cpu + plain_cpu2) / idle
        print("idle, %d watched prefixes: %.3f s CPU over %d s (%.3f%% of a core), %d KV "
              "requests in that time" % (PREFIXES, kv_cpu, idle, 100 * kv_cpu / idle, reqs))
        print("  floor, the same ostiary without KV (before and after): %.3f%% of a core"
              % (100 * plain))
    finally:
        sim.terminate()
        sim.wait(10)


if __name__ == "__main__":
    main()
