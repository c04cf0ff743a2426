#!/usr/bin/env python3
"""make bench, scale: ostiary with thousands of probes next to its floor (issue #13).

Each scenario runs ostiary and the floor (tests/bench/floor.c: a bare C program
making the same probes and the same agent PUTs per second on one reused
keep-alive libcurl handle) alternately, ostiary first, PAIRS times, each run
against a fresh Consul agent simulator (tests/sim/consul_sim.py) and the same
probe target (`floor serve`: accepts TCP, answers HTTP 200 "ok", keep-alive).

    scenario  checks                          heartbeat  targets
    tcp       10,000 TCP (1,000 svc x 10), 10 s   20 s   CPU <= 1.2x floor; Private_Dirty
                                                         max <= 25 MB (2 KB/check + base)
                                                         with >= 1 verify read-back in the
                                                         run; peak pushes/s <= 1.3x mean;
                                                         <= 1 new agent connection/min
    http      1,000 HTTP (100 svc x 10), 10 s     20 s   CPU <= 1.2x floor; Private_Dirty
                                                         max <= 6 MB
    exec      200 exec /bin/true (20 x 10), 10 s  30 s   CPU <= 1.5x floor (posix_spawn)

The heartbeat is ostiary's default for a probe, half its TTL (3 intervals + the
timeout: 40 s for tcp/http, 60 s for exec); the floor pushes at that rate,
spread evenly, to the same check IDs, which the harness registers on the
simulator before the floor starts (the same services and TTL checks ostiary
registers), so the agent answers both alike.

Timing of one run (WARMUP, WINDOW):
  - ostiary warms up 25 s: registration, the first interval (10 s: every check
    has run and pushed its first result) and slack; the floor needs none beyond
    its connection to the agent (3 s).
  - the steady-state window is 40 s (--seconds): two heartbeat periods of the
    20-s heartbeat, so every check is pushed exactly twice in it whether the
    pushes are spread or bunched, and, from 25 s, it holds ostiary's verify
    read-backs at 30 s and 60 s (verify_interval 30 s).  For exec (30-s
    heartbeat) it is 1.3 periods; its pushes are 7 per second.
  - CPU: utime + stime from /proc/PID/stat across the window, in % of a core;
    the simulator's own CPU is shown too (it must not be the bottleneck).
  - Private_Dirty: /proc/PID/smaps_rollup every 0.5 s over the whole run,
    start to SIGTERM; the maximum counts.
  - pushes: the simulator's request log (GET /log?since=, then
    DELETE /log?through= so it stays short), PUTs to /v1/agent/check/* by
    arrival second over the window: peak second / mean per second.
  - new connections: GET /status connections_accepted across the window, per
    minute.
  - verify: GETs of /v1/agent/checks during the run.

Usage: scale.py OSTIARY FLOOR [--pairs N] [--seconds WINDOW] [--warmup S] [--checks N]
                [tcp] [http] [exec]   (default: all three; env BENCH_PAIRS works too)
Exits 1 if a target is missed (or a run could not measure it), 2 on usage.
Time: about (WARMUP + 2 x WINDOW + 15 s) per pair: ~6 min per pair of all three.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "..", "sim", "consul_sim.py")
TICKS = os.sysconf("SC_CLK_TCK")
PER_SERVICE = 10
INTERVAL_S = 10
FLOOR_WARMUP_S = 3
SAMPLE_S = 0.5
LOG_POLL_S = 1.0

SCENARIOS = {
    # name: checks, probe timeout (s, ostiary's default), CPU target, Dirty target kB,
    #       push spread and connection targets apply
    "tcp": dict(checks=10000, timeout=10, cpu=1.2, dirty_kb=25 * 1024, steady=True),
    "http": dict(checks=1000, timeout=10, cpu=1.2, dirty_kb=6 * 1024, steady=False),
    "exec": dict(checks=200, timeout=30, cpu=1.5, dirty_kb=None, steady=False),
}
PUSH_PEAK_RATIO = 1.3
CONNECTIONS_PER_MIN = 1.0


def heartbeat_s(scenario):
    return (3 * INTERVAL_S + SCENARIOS[scenario]["timeout"]) / 2


# ---- processes and /proc -----------------------------------------------------

def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS   # utime + stime


def private_dirty_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Sim:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, SIM, "--port", "0", "--control-port", "0"],
                                     stdout=subprocess.PIPE, text=True)
        ready = json.loads(self.proc.stdout.readline())
        self.agent_port, self.control_port = ready["agent_port"], ready["control_port"]
        self.agent_url = "http://127.0.0.1:%d" % self.agent_port

    def control(self, method, path):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.control_port, path),
                                     method=method)
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"null")

    def register(self, services):
        """The services and TTL checks ostiary would register, for the floor's pushes; passing
    from the start (Consul's initial Status), as the floor pushes each one only once per
    heartbeat, evenly spread, where ostiary pushes every first result at once."""
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.agent_port, timeout=30)
        try:
            for body in services:
                conn.request("PUT", "/v1/agent/service/register", body=json.dumps(body),
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    raise RuntimeError("registering %s: %d" % (body["ID"], resp.status))
        finally:
            conn.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


class Watcher(threading.Thread):
    """Samples Private_Dirty every 0.5 s and drains the simulator's request log every
    second into per-second push counts and a count of verify read-backs."""

    def __init__(self, sim, pid):
        super().__init__(daemon=True)
        self.sim, self.pid = sim, pid
        self.stop_event = threading.Event()
        self.dirty_max = 0
        self.pushes = {}        # int(arrival second) -> PUTs to /v1/agent/check/*
        self.verify_reads = 0
        self.requests = 0
        self.last_seq = 0
        self.error = None

    def drain(self):
        entries = self.sim.control("GET", "/log?since=%d" % self.last_seq)
        for e in entries:
            self.requests += 1
            if e["method"] == "PUT" and e["path"].startswith("/v1/agent/check/"):
                second = int(e["t"])
                self.pushes[second] = self.pushes.get(second, 0) + 1
            elif e["method"] == "GET" and e["path"] == "/v1/agent/checks":
                self.verify_reads += 1
        if entries:
            self.last_seq = entries[-1]["seq"]
            self.sim.control("DELETE", "/log?through=%d" % self.last_seq)

    def run(self):
        next_drain = time.monotonic()
        try:
            while not self.stop_event.is_set():
                kb = private_dirty_kb(self.pid)
                if kb is not None:
                    self.dirty_max = max(self.dirty_max, kb)
                if time.monotonic() >= next_drain:
                    self.drain()
                    next_drain += LOG_POLL_S
                self.stop_event.wait(SAMPLE_S)
        except Exception as exc:   # reported with the run, not lost in a thread
            self.error = exc

    def finish(self):
        self.stop_event.set()
        self.join()
        self.drain()


# ---- configurations ----------------------------------------------------------

def check_id(i):
    return "chk%d" % i


def probe_fields(scenario, target_port):
    if scenario == "tcp":
        return 'type = "tcp"; tcp = "127.0.0.1:%d";' % target_port
    if scenario == "http":
        return 'type = "http"; url = "http://127.0.0.1:%d/health";' % target_port
    return 'type = "exec"; args = ["/bin/true"];'


def write_config(directory, scenario, target_port):
    n = SCENARIOS[scenario]["checks"]
    fields = probe_fields(scenario, target_port)
    services = []
    for s in range(n // PER_SERVICE):
        checks = ",\n".join('      { id = "%s"; %s interval = "%ds"; }'
                            % (check_id(s * PER_SERVICE + c), fields, INTERVAL_S)
                            for c in range(PER_SERVICE))
        services.append('  { name = "svc%d"; checks = (\n%s\n    ); }' % (s, checks))
    path = os.path.join(directory, "scale-%s.conf" % scenario)
    with open(path, "w") as f:
        f.write('command = ["sleep", "3600"];\nservices = (\n%s\n);\n' % ",\n".join(services))
    return path


def floor_services(scenario):
    n = SCENARIOS[scenario]["checks"]
    ttl = "%ds" % (3 * INTERVAL_S + SCENARIOS[scenario]["timeout"])
    return [{"ID": "svc%d" % s, "Name": "svc%d" % s,
             "Checks": [{"CheckID": check_id(s * PER_SERVICE + c), "Name": check_id(s * PER_SERVICE + c),
                         "TTL": ttl, "Status": "passing"} for c in range(PER_SERVICE)]}
            for s in range(n // PER_SERVICE)]


# ---- one run -----------------------------------------------------------------

def one_run(who, scenario, args, config, target_port):
    n = SCENARIOS[scenario]["checks"]
    warmup = args.warmup if who == "ostiary" else FLOOR_WARMUP_S
    sim = Sim()
    try:
        if who == "ostiary":
            cmd = [args.ostiary, "--http-addr", "127.0.0.1:%d" % sim.agent_port, "-c", config]
        else:
            sim.register(floor_services(scenario))
            target = {"tcp": "127.0.0.1:%d" % target_port,
                      "http": "http://127.0.0.1:%d/health" % target_port,
                      "exec": "/bin/true"}[scenario]
            cmd = [args.floor, scenario, sim.agent_url, target, str(n), str(INTERVAL_S * 1000),
                   str(int(heartbeat_s(scenario) * 1000)), str(int(warmup + args.seconds + 1)),
                   "chk"]
        sim.control("DELETE", "/log")
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)
        watcher = Watcher(sim, proc.pid)
        watcher.start()
        try:
            time.sleep(max(0.0, start + warmup - time.monotonic()))
            t0, cpu0, sim0 = time.monotonic(), cpu_seconds(proc.pid), cpu_seconds(sim.proc.pid)
            conn0 = sim.control("GET", "/status")["connections_accepted"]
            time.sleep(args.seconds)
            t1, cpu1, sim1 = time.monotonic(), cpu_seconds(proc.pid), cpu_seconds(sim.proc.pid)
            conn1 = sim.control("GET", "/status")["connections_accepted"]
            state = sim.control("GET", "/state")
            passing = sum(1 for c in state["checks"].values() if c["Status"] == "passing")
        finally:
            if who == "ostiary":
                proc.send_signal(signal.SIGTERM)
            try:
                out, _ = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            watcher.finish()
        if watcher.error:
            raise RuntimeError("watching the run: %s" % watcher.error)
    finally:
        sim.stop()
    # Full seconds inside the window only, so a partial second does not pass for a lull.
    seconds = range(int(t0) + 1, int(t1))
    counts = [watcher.pushes.get(s, 0) for s in seconds]
    mean = sum(counts) / len(counts) if counts else 0.0
    return {
        "who": who, "cpu": 100.0 * (cpu1 - cpu0) / (t1 - t0),
        "sim_cpu": 100.0 * (sim1 - sim0) / (t1 - t0),
        "dirty": watcher.dirty_max, "peak": max(counts, default=0), "mean": mean,
        "conn_min": (conn1 - conn0) * 60.0 / (t1 - t0), "verify": watcher.verify_reads,
        "passing": passing, "checks": n, "floor_out": (out or "").strip(),
        "requests": watcher.requests,
    }


# ---- report ------------------------------------------------------------------

def spread(values, fmt):
    return "(%s-%s)" % (fmt % min(values), fmt % max(values))


def report(scenario, runs):
    spec = SCENARIOS[scenario]
    n = spec["checks"]
    print("\nscale %s: %d checks, interval %d s, heartbeat %g s, window %s" %
          (scenario, n, INTERVAL_S, heartbeat_s(scenario), ARGS_WINDOW))
    print("%-4s %-8s %9s %8s %10s %15s %9s %6s %12s" %
          ("run", "who", "CPU %core", "sim %core", "Dirty kB", "pushes/s pk/mean",
           "conn/min", "verify", "passing"))
    for i, r in enumerate(runs):
        print("%-4d %-8s %9.2f %8.1f %10d %7d/%-7.1f %9.2f %6d %6d/%-5d %s" %
              (i // 2 + 1, r["who"], r["cpu"], r["sim_cpu"], r["dirty"], r["peak"], r["mean"],
               r["conn_min"], r["verify"], r["passing"], r["checks"], r["floor_out"]))
    ost = [r for r in runs if r["who"] == "ostiary"]
    flo = [r for r in runs if r["who"] == "floor"]
    ok = True
    lines = []

    def verdict(met):
        return "met" if met else "MISSED"

    ratios = [o["cpu"] / f["cpu"] if f["cpu"] > 0 else float("inf") for o, f in zip(ost, flo)]
    med = statistics.median(ratios)
    met = med <= spec["cpu"]
    ok &= met
    lines.append("%s %d: CPU %.2fx floor %s (ostiary %.2f%%, floor %.2f%% median) target <=%gx: %s"
                 % (scenario, n, med, spread(ratios, "%.2f"),
                    statistics.median(o["cpu"] for o in ost),
                    statistics.median(f["cpu"] for f in flo), spec["cpu"], verdict(met)))
    if spec["dirty_kb"]:
        dirty = [o["dirty"] for o in ost]
        verified = all(o["verify"] >= 1 for o in ost) or scenario != "tcp"
        met = max(dirty) <= spec["dirty_kb"] and verified
        ok &= met
        lines.append("%s %d: Private_Dirty max %d kB %s, %.2f kB/check, verify read-backs %s "
                     "target <=%d kB%s: %s"
                     % (scenario, n, statistics.median(dirty), spread(dirty, "%d"),
                        max(dirty) / n, spread([o["verify"] for o in ost], "%d"),
                        spec["dirty_kb"], " with >=1 read-back" if scenario == "tcp" else "",
                        verdict(met) if verified else "MISSED (no verify read-back in a run)"))
    if spec["steady"]:
        peaks = [o["peak"] / o["mean"] if o["mean"] else float("inf") for o in ost]
        met = max(peaks) <= PUSH_PEAK_RATIO
        ok &= met
        lines.append("%s %d: pushes peak/mean %.2f %s (floor %.2f) target <=%g: %s"
                     % (scenario, n, statistics.median(peaks), spread(peaks, "%.2f"),
                        statistics.median(f["peak"] / f["mean"] if f["mean"] else 0
                                          for f in flo), PUSH_PEAK_RATIO, verdict(met)))
        conns = [o["conn_min"] for o in ost]
        met = max(conns) <= CONNECTIONS_PER_MIN
        ok &= met
        lines.append("%s %d: new agent connections %.1f/min %s (floor %.1f) target <=%g/min: %s"
                     % (scenario, n, statistics.median(conns), spread(conns, "%.1f"),
                        statistics.median(f["conn_min"] for f in flo), CONNECTIONS_PER_MIN,
                        verdict(met)))
    unhealthy = [r for r in runs if r["passing"] != r["checks"]]
    if unhealthy:
        ok = False
        lines.append("%s %d: %d run(s) without every check passing at the window's end: MISSED"
                     % (scenario, n, len(unhealthy)))
    for line in lines:
        print(line)
    sys.stdout.flush()   # one scenario at a time, while the next runs
    return ok, lines


ARGS_WINDOW = ""


def main():
    global ARGS_WINDOW
    parser = argparse.ArgumentParser(description="ostiary at scale next to its floor")
    parser.add_argument("ostiary")
    parser.add_argument("floor")
    parser.add_argument("scenarios", nargs="*", metavar="tcp|http|exec")
    parser.add_argument("--pairs", type=int, default=int(os.environ.get("BENCH_PAIRS") or 3))
    parser.add_argument("--seconds", type=float, default=40.0, help="steady-state window")
    parser.add_argument("--warmup", type=float, default=25.0, help="ostiary's warm-up")
    parser.add_argument("--checks", type=int, help="override the scenario's number of checks "
                        "(a multiple of 10; to try the harness, not for the targets)")
    args = parser.parse_intermixed_args()
    args.ostiary, args.floor = os.path.abspath(args.ostiary), os.path.abspath(args.floor)
    scenarios = args.scenarios or list(SCENARIOS)
    if any(s not in SCENARIOS for s in scenarios):
        parser.error("scenarios: tcp, http, exec")
    if args.checks:
        for spec in SCENARIOS.values():
            spec["checks"] = args.checks
    if args.pairs < 1 or args.seconds < 5:
        parser.error("--pairs must be >= 1 and --seconds >= 5")
    ARGS_WINDOW = "%g s after %g s warm-up (floor %d s), %d pair(s)" % (
        args.seconds, args.warmup, FLOOR_WARMUP_S, args.pairs)
    began = time.monotonic()
    target = subprocess.Popen([args.floor, "serve"], stdout=subprocess.PIPE, text=True)
    summary, ok = [], True
    try:
        port = json.loads(target.stdout.readline())["port"]
        with tempfile.TemporaryDirectory() as directory:
            for scenario in scenarios:
                config = write_config(directory, scenario, port)
                runs = []
                for _ in range(args.pairs):
                    for who in ("ostiary", "floor"):
                        runs.append(one_run(who, scenario, args, config, port))
                met, lines = report(scenario, runs)
                ok &= met
                summary += lines
    finally:
        target.terminate()
        target.wait()
    print("\nscale summary (%.0f s):" % (time.monotonic() - began))
    for line in summary:
        print("  " + line)
    print("scale: %s" % ("targets met" if ok else "TARGET MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
