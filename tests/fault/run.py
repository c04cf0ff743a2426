#!/usr/bin/env python3
"""Fault-injection suite for ostiary (Python 3 standard library only).

    python3 tests/fault/run.py [--ostiary build/ostiary] [--sim tests/sim/consul_sim.py]
        [--helpers build/tests/helpers] [--only NAME ...] [--list] [-v]

Each scenario starts its own Consul agent simulator (tests/sim/consul_sim.py, port 0)
and its own ostiary, injects faults through the simulator's control port, and checks
the three promises a user of ostiary relies on.  Breaking one of them counts as "lost":

  registration  the service is missing from the agent although the child is healthy
                and the agent has been up and fault-free for RECOVERY seconds;
  status        after the agent recovers, the check does not reach the status ostiary
                should be reporting (passing for a running child, ...) within RECOVERY;
  exit status   ostiary's exit code is not what the child's end implies (its code, or
                128+N when signal N killed it), or ostiary never exits.

Other failures (wrong shutdown order, a service left behind, an unsupported flag, ...)
fail the scenario without counting as lost.  One line per scenario, then one summary:

    ok   agent-down-at-start        1.8s
    FAIL acl-403: ...
    fault-injection: 15 scenarios run, 14 passed, 1 failed; lost: 0 registrations, ...

Exit status: 0 only if every scenario passed and nothing was lost; 1 otherwise; 2 for
bad usage.  Every wait polls a condition every 20 ms up to a deadline; every process
is killed in a finally block.  On failure the scenario's files (ostiary's stderr,
the simulator's stderr, the children's records) are kept and their path printed.

Clocks: the simulator log's "t" is time.monotonic() in seconds and sigrecorder writes
CLOCK_MONOTONIC in microseconds; Python's time.monotonic() is the same clock.
"""

import argparse
import ctypes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

POLL = 0.02          # every wait polls this often
RECOVERY = 3.0       # after the agent is healthy again: re-registered / status right
STARTUP = 5.0        # first registration with a healthy agent
EXIT_DEADLINE = 6.0  # SIGTERM -> exit: drain step + drain delay + child + deregister (2 s)
AGENT_TIMEOUT, RETRY_MAX = "1s", "1s"
FAST_TTL = ["--ttl", "2s", "--heartbeat", "500ms"]
MIB = 1024 * 1024

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


# ---------------------------------------------------------------------------
# Waiting, failing
# ---------------------------------------------------------------------------

class Fail(Exception):
    """A scenario failed; `lost` names the broken promise, if one was broken."""

    def __init__(self, reason, lost=None):
        super().__init__(reason)
        self.reason, self.lost = reason, lost


LOST_KINDS = ("registration", "status", "exit")


def wait_until(cond, timeout, interval=POLL):
    """Poll cond() every `interval` until it is truthy or `timeout` seconds pass;
    returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            return value
        time.sleep(min(interval, left))  # poll interval until the deadline


_SANITIZED = {}


def sanitized(binary):
    """True when binary was built with AddressSanitizer (its runtime is linked in)."""
    if binary not in _SANITIZED:
        with open(binary, "rb") as handle:
            _SANITIZED[binary] = b"__asan_init" in handle.read()
    return _SANITIZED[binary]


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def descendants(pid):
    """All processes below pid (children, grandchildren, ...), from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_quietly(pid, sig=signal.SIGKILL):
    if pid is None:   # a child that never got as far as saying it was ready
        return
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: nothing we start outlives this script (SIGKILL on its death)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def clean_env():
    """Our environment without CONSUL_* (flags only) and proxies (libcurl obeys them)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CONSUL_") and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["NO_PROXY"] = "*"
    return env


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, port, path, body=None, timeout=5.0):
    """One request to 127.0.0.1:port -> (status, body bytes); status -1 on transport errors."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     method=method)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (OSError, urllib.error.URLError) as err:
        return -1, str(err).encode()


# ---------------------------------------------------------------------------
# The simulator
# ---------------------------------------------------------------------------

class Sim:
    """One consul_sim.py process: control API helpers and direct agent requests."""

    def __init__(self, ctx, extra_args):
        self.stderr_path = ctx.path(f"sim{len(ctx.sims)}.stderr")
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, ctx.opts.sim, "--port", "0", "--control-port", "0",
                 *extra_args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=stderr, preexec_fn=_die_with_parent)
        ready = self._ready_line(10.0)
        self.agent_port, self.control_port = ready["agent_port"], ready["control_port"]
        self.addr = f"127.0.0.1:{self.agent_port}"

    def _ready_line(self, timeout):
        deadline, data = time.monotonic() + timeout, b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise Fail(f"simulator did not start: {data!r}")
            if select.select([fd], [], [], min(left, POLL))[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise Fail(f"simulator exited before its ready line: {data!r}")
                data += chunk
        return json.loads(data.split(b"\n")[0])

    def control(self, method, path, body=None):
        """A control API call; a transport error (seen as a reset on a loaded machine)
        is retried for up to 2 s, anything but 200 fails the scenario."""
        answers = []

        def attempt():
            answers.append(http(method, self.control_port, path, body))
            return answers[-1][0] != -1
        wait_until(attempt, 2.0)
        status, data = answers[-1]
        if status != 200:
            raise Fail(f"simulator control {method} {path}: {status} {data[:200]!r}")
        return json.loads(data)

    def state(self):
        return self.control("GET", "/state")

    def service(self, service_id):
        return self.state()["services"].get(service_id)

    def has_service(self, service_id):
        return self.service(service_id) is not None

    def check(self, check_id):
        return self.state()["checks"].get(check_id)

    def log(self, since=0):
        return self.control("GET", f"/log?since={since}")

    def last_seq(self):
        entries = self.log()
        return entries[-1]["seq"] if entries else 0

    def clear_log(self):
        self.control("DELETE", "/log")

    def requests(self, method=None, prefix="", since=0, fault=None):
        """Logged agent requests matching method, raw path prefix and fault mode."""
        return [e for e in self.log(since)
                if (method is None or e["method"] == method) and e["path"].startswith(prefix)
                and (fault is None or e["fault"] == fault)]

    def fault(self, mode, **fields):
        """PUT /fault; returns the log position before it, for requests(since=...)."""
        mark = self.last_seq()
        self.control("PUT", "/fault", dict(fields, mode=mode))
        return mark

    def clear_fault(self):
        self.control("PUT", "/fault", {"mode": "none"})

    def stop(self):
        self.control("POST", "/stop")

    def start(self):
        self.control("POST", "/start")

    def restart(self):
        self.control("POST", "/restart")

    def agent(self, method, path, body=None):
        """A request straight to the agent port, as another client would send it."""
        return http(method, self.agent_port, path, body)

    def close(self):
        if self.proc.poll() is None:
            http("POST", self.control_port, "/quit", timeout=1.0)
            if not wait_until(lambda: self.proc.poll() is not None, 2.0):
                self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


# ---------------------------------------------------------------------------
# Children and ostiary
# ---------------------------------------------------------------------------

class Recorder:
    """A sigrecorder child: "ready PID", then "SIGNO MONO_US" per signal received."""

    def __init__(self, ctx, name, flags):
        self.file = ctx.path(name)
        self.argv = [os.path.join(ctx.opts.helpers, "sigrecorder"), self.file, *flags]
        ctx.recorders.append(self)

    def _lines(self):
        try:
            with open(self.file) as handle:
                return handle.read().splitlines()
        except FileNotFoundError:
            return []

    def pid(self, timeout=5.0):
        """The recorder's pid once it has said "ready" (a sanitized build starts
        slower than ostiary registers), or None after the deadline."""
        found = []

        def ready():
            found[:] = [int(line.split()[1]) for line in self._lines()
                        if line.startswith("ready ")]
            return bool(found)

        return found[0] if wait_until(ready, timeout) else None

    def alive(self):
        pid = self.pid()
        return pid is not None and pid_alive(pid)

    def signals(self):
        """[(signo, monotonic seconds)] in arrival order."""
        out = []
        for line in self._lines():
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():
                out.append((int(parts[0]), int(parts[1]) / 1e6))
        return out

    def got(self, signo):
        """Monotonic time (s) the child first got signo, or None."""
        return next((t for s, t in self.signals() if s == signo), None)


class Ostiary:
    """One ostiary process; stderr goes to a file of the scenario."""

    def __init__(self, ctx, sim, service, command, flags, label):
        self.label = label
        self.stderr_path = ctx.path(f"{label}.stderr")
        argv = [ctx.opts.ostiary, "--http-addr", sim.addr, "--agent-timeout", AGENT_TIMEOUT,
                "--retry-max", RETRY_MAX]
        argv += ([] if "--ttl" in flags else FAST_TTL) + list(flags) + [service, "--", *command]
        self.argv = argv
        # Its own runtime directory: the status socket's default name there
        # is fixed, and scenarios run side by side.
        env = clean_env()
        env["RUNTIME_DIRECTORY"] = ctx.path(f"{label}.rt")
        os.makedirs(env["RUNTIME_DIRECTORY"], mode=0o700, exist_ok=True)
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=stderr,
                                         env=env, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        self.watch = True   # while True, exiting on its own fails the scenario
        self.child = None   # a Recorder: tells whether the child still runs

    def alive(self):
        return self.proc.poll() is None

    def send(self, sig):
        kill_quietly(self.pid, sig)

    def term(self, sig=signal.SIGTERM):
        """Ask it to stop: from now on, exiting is expected."""
        self.watch = False
        self.send(sig)
        return time.monotonic()

    def exit_code(self, timeout):
        """Its exit code (128+N if a signal killed ostiary itself), or None if it is
        still running after timeout seconds."""
        if not wait_until(lambda: self.proc.poll() is not None, timeout):
            return None
        code = self.proc.returncode
        return 128 - code if code < 0 else code

    def stderr(self):
        with open(self.stderr_path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")

    def rss_kib(self, field="VmRSS"):
        """VmRSS (or another /proc status field, such as VmHWM: the peak) in KiB."""
        with open(f"/proc/{self.pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self):
        """User + system CPU time ostiary has used so far."""
        with open(f"/proc/{self.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self):
        """SIGKILL ostiary and everything below it."""
        self.watch = False
        if self.proc.poll() is None:
            below = descendants(self.pid)
            kill_quietly(self.pid)
            for pid in below:
                kill_quietly(pid)
        self.proc.wait()

    def check_running(self):
        """Called by every wait: ostiary must not exit while it is watched."""
        if not self.watch or self.proc.poll() is None:
            return
        self.watch = False
        code = self.exit_code(0)
        last = (self.stderr().strip().splitlines() or ["(no output)"])[-1]
        if code == 125:
            raise Fail(f"{self.label} refused to start (125): {last}")
        if self.child is not None and self.child.alive():
            raise Fail(f"{self.label} exited with {code} while its child was still running: "
                       f"{last}", lost="exit")
        raise Fail(f"{self.label} exited unexpectedly with {code}: {last}")


# ---------------------------------------------------------------------------
# The scenario context
# ---------------------------------------------------------------------------

class Scenario:
    """What a scenario function gets: ctx.sim, ctx.ost, files, waits and expectations."""

    def __init__(self, opts, name, workdir):
        self.opts, self.name, self.dir = opts, name, workdir
        self.sims, self.osts, self.recorders = [], [], []
        self.sim = self.ost = None
        self.steps = []
        self.t0 = time.monotonic()

    # -- setup ------------------------------------------------------------------

    def path(self, name):
        return os.path.join(self.dir, name)

    def start_sim(self, *extra_args):
        sim = Sim(self, list(extra_args))
        self.sims.append(sim)
        self.sim = self.sim or sim
        return sim

    def recorder(self, *flags, name=None):
        return Recorder(self, name or f"rec{len(self.recorders)}", list(flags))

    def start_ostiary(self, service, command, *flags, sim=None):
        """ostiary --http-addr SIM --agent-timeout 1s --retry-max 1s [--ttl 2s --heartbeat
        500ms] FLAGS SERVICE -- COMMAND; command may be a Recorder."""
        child = command if isinstance(command, Recorder) else None
        argv = command.argv if child else command
        ost = Ostiary(self, sim or self.sim, service, argv, flags, f"ostiary{len(self.osts)}")
        ost.child = child
        self.osts.append(ost)
        self.ost = ost
        self.note("started: " + " ".join(ost.argv[1:]))
        return ost

    def token_file(self, token, name="token"):
        """Write token to a mode-0600 file (atomically, so a reader never sees half)."""
        path = self.path(name)
        temporary = path + ".tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        os.replace(temporary, path)
        return path

    def note(self, text):
        self.steps.append(text)
        if self.opts.verbose:
            print(f"     {time.monotonic() - self.t0:6.2f}s {text}", flush=True)

    # -- waiting ----------------------------------------------------------------

    def _guarded(self, cond):
        def poll():
            for ost in self.osts:
                ost.check_running()
            return cond()
        return poll

    def wait(self, cond, timeout, what, lost=None):
        """Wait for cond (while every watched ostiary keeps running), else fail."""
        value = wait_until(self._guarded(cond), timeout)
        if not value:
            raise Fail(f"{what}: not within {timeout:g}s", lost)
        return value

    def hold(self, cond, duration, what, lost=None):
        """cond must stay true for `duration` seconds (polled); fails at the first miss."""
        began = time.monotonic()
        if wait_until(self._guarded(lambda: not cond()), duration):
            raise Fail(f"{what} (after {time.monotonic() - began:.1f}s of {duration:g}s)", lost)

    # -- the three promises -----------------------------------------------------

    def expect_registered(self, service_id, within=RECOVERY, sim=None):
        sim = sim or self.sim
        self.wait(lambda: sim.has_service(service_id), within,
                  f"service {service_id} not registered", lost="registration")
        self.note(f"{service_id} registered")

    def expect_status(self, check_id, status, within=RECOVERY, contains=(), sim=None):
        sim = sim or self.sim
        seen = {}

        def reached():
            check = sim.check(check_id)
            seen["last"] = check and (check["Status"], check["Output"])
            return check is not None and check["Status"] == status and \
                all(text in check["Output"] for text in contains)
        if not wait_until(self._guarded(reached), within):
            wanted = status + (f" with {list(contains)} in its output" if contains else "")
            raise Fail(f"check {check_id} not {wanted} within {within:g}s "
                       f"(last seen: {seen.get('last')})", lost="status")
        self.note(f"{check_id} {status}")
        return sim.check(check_id)

    def expect_exit(self, ost, expected, within=EXIT_DEADLINE):
        ost.watch = False
        code = ost.exit_code(within)
        if code is None:
            raise Fail(f"{ost.label} did not exit within {within:g}s (its supervisor would "
                       f"have to SIGKILL it: 137 instead of {expected})", lost="exit")
        if code != expected:
            raise Fail(f"{ost.label} exited with {code}, the child's end implies {expected}",
                       lost="exit")
        self.note(f"{ost.label} exited with {code}")

    def expect_gone(self, service_id, within=2.0, sim=None):
        sim = sim or self.sim
        self.wait(lambda: not sim.has_service(service_id), within,
                  f"service {service_id} still registered")

    def finish(self, ost, expected, service_id, within=EXIT_DEADLINE):
        """SIGTERM ostiary: it exits with `expected` and the service is deregistered."""
        ost.term()
        self.expect_exit(ost, expected, within)
        self.expect_gone(service_id)

    # -- teardown ---------------------------------------------------------------

    def cleanup(self):
        for ost in self.osts:
            try:
                ost.kill()
            except Exception:   # keep tearing down the rest
                pass
        for rec in self.recorders:
            pid = rec.pid(timeout=0)
            if pid is not None and pid_alive(pid):
                kill_quietly(pid)
        for sim in self.sims:
            try:
                sim.close()
            except Exception:
                sim.proc.kill()

    def failure_details(self):
        lines = []
        lines += [f"step: {step}" for step in self.steps[-3:]]
        for ost in self.osts:
            try:
                tail = ost.stderr().rstrip("\n").splitlines()[-15:]
            except OSError:
                continue
            lines.append(f"{ost.label} stderr (last {len(tail)} lines):")
            lines += [f"  | {line}" for line in tail]
        lines.append(f"files kept in {self.dir}")
        return lines


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------

SCENARIOS = []
HOSTILE = set()   # a hostile agent, probe target or file: ostiary's work stays bounded


def scenario(name, hostile=False):
    def register(func):
        SCENARIOS.append((name, func))
        if hostile:
            HOSTILE.add(name)
        return func
    return register


def faulted(sim, mark, mode, n):
    """A condition: at least n requests hit by fault `mode` since log position mark."""
    return lambda: len(sim.requests(since=mark, fault=mode)) >= n


@scenario("agent-down-at-start")
def agent_down_at_start(ctx):
    """The child starts even when the agent is down, and is registered and passing
    as soon as the agent comes up."""
    sim = ctx.start_sim()
    sim.stop()
    rec = ctx.recorder("--exit", "3")
    ost = ctx.start_ostiary("web", rec)
    ctx.wait(rec.alive, 3.0, "the child did not start while the agent was down")
    ctx.hold(rec.alive, 1.0, "the child did not keep running while the agent was down")
    sim.start()
    ctx.note("agent started")
    ctx.expect_registered("web")
    ctx.expect_status("service:web", "passing")
    ctx.finish(ost, 3, "web")


@scenario("agent-restart-state-loss")
def agent_restart_state_loss(ctx):
    """An agent restarted without its data (consul agent -dev) gets the service and a
    passing check back within a heartbeat or so."""
    sim = ctx.start_sim()
    rec = ctx.recorder()
    ost = ctx.start_ostiary("web", rec)
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    mark = sim.last_seq()
    sim.restart()
    ctx.note("agent restarted without state")
    ctx.expect_registered("web")
    ctx.expect_status("service:web", "passing")
    if not sim.requests("PUT", "/v1/agent/service/register", since=mark):
        raise Fail("no registration after the restart: the simulator kept its state?")
    ctx.finish(ost, 0, "web")


@scenario("agent-hang")
def agent_hang(ctx):
    """A hung agent never touches the child, the status is delivered once it answers
    again, and SIGTERM while it hangs still ends ostiary in bounded time with the
    child's status."""
    sim = ctx.start_sim()
    rec = ctx.recorder("--exit", "4")
    ost = ctx.start_ostiary("web", rec, "--kill-timeout", "1s")
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    mark = sim.fault("hang")
    ctx.wait(faulted(sim, mark, "hang", 1), 2.0, "no request reached the hung agent")
    ctx.note("agent hangs")
    ctx.hold(lambda: rec.alive() and not rec.signals(), 2.5,
             "the child was disturbed while the agent hung")
    sim.clear_fault()
    ctx.note("agent answers again")
    ctx.expect_registered("web")
    ctx.expect_status("service:web", "passing")

    mark = sim.fault("hang")
    ctx.wait(faulted(sim, mark, "hang", 1), 2.0, "no request reached the hung agent")
    sent = ost.term()
    # kill timeout 1 s + drain (step <= agent timeout 1 s, delay 1 s) + deregister 2 s.
    ctx.expect_exit(ost, 4, within=1 + 2 + 2 + 0.5)
    ctx.note(f"exited {time.monotonic() - sent:.1f}s after SIGTERM with the agent hung")
    if rec.got(signal.SIGTERM) is None:
        raise Fail("the child never got SIGTERM")


@scenario("5xx-storm")
def server_error_storm(ctx):
    """Every request answered 500, then 503, for a while: the child runs on, and the
    service is registered and passing soon after the errors stop."""
    sim = ctx.start_sim()
    rec = ctx.recorder()
    ost = ctx.start_ostiary("web", rec)
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    for status, body in ((500, "rpc error making call: EOF"), (503, "No cluster leader")):
        mark = sim.fault("error", status=status, body=body, count=-1)
        ctx.wait(faulted(sim, mark, "error", 3), 5.0, f"ostiary stopped retrying on {status}")
        ctx.note(f"three requests answered {status}")
    if not rec.alive():
        raise Fail("the child died during the error storm")
    sim.clear_fault()
    ctx.expect_registered("web")
    ctx.expect_status("service:web", "passing")
    ctx.finish(ost, 0, "web")


@scenario("acl-403")
def acl_403(ctx):
    """A wrong token: the child keeps running, the 403 is reported clearly but not
    once per request, and SIGHUP after fixing the token file registers the service
    (the child gets the SIGHUP too)."""
    sim = ctx.start_sim("--acl-token", "good-secret-5d1e")
    token = ctx.token_file("wrong-secret-77aa")
    rec = ctx.recorder()
    ost = ctx.start_ostiary("web", rec, "--token-file", token)
    ctx.wait(rec.alive, 3.0, "the child did not start")

    def acl_lines():
        return [line for line in ost.stderr().splitlines()
                if re.search(r"403|acl|permission denied", line, re.I)]
    ctx.wait(acl_lines, 3.0, "no 403/ACL message in ostiary's stderr")
    ctx.hold(rec.alive, 5.0, "the child did not keep running with a refused token")
    attempts = len(sim.requests(method="PUT"))
    lines = acl_lines()
    ctx.note(f"{attempts} refused requests, {len(lines)} ACL lines in stderr")
    if len(lines) > 3:
        raise Fail(f"{len(lines)} ACL lines in ~5s ({attempts} requests): reported per "
                   f"request, e.g. {lines[-1]!r}")
    if sim.has_service("web"):
        raise Fail("registered with a wrong token?")

    ctx.token_file("good-secret-5d1e")
    ost.send(signal.SIGHUP)
    ctx.note("token file fixed, SIGHUP sent")
    ctx.expect_registered("web")
    ctx.expect_status("service:web", "passing")
    ctx.wait(lambda: rec.got(signal.SIGHUP), 2.0, "SIGHUP was not forwarded to the child")
    for secret in ("good-secret-5d1e", "wrong-secret-77aa"):
        if secret in ost.stderr():
            raise Fail("the token appeared in ostiary's stderr")
    ctx.finish(ost, 0, "web")


@scenario("malformed-response")
def malformed_response(ctx):
    """Answers that are not HTTP, then 200s whose body is not JSON: ostiary survives
    and the service is registered and passing once the agent is sane again."""
    sim = ctx.start_sim()
    rec = ctx.recorder()
    ost = ctx.start_ostiary("web", rec)
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    mark = sim.fault("garbage")
    ctx.wait(faulted(sim, mark, "garbage", 3), 5.0, "ostiary stopped talking to the agent")
    mark = sim.fault("error", status=200, body="<html>this is { not JSON")
    ctx.wait(faulted(sim, mark, "error", 3), 5.0, "ostiary stopped talking to the agent")
    if not rec.alive():
        raise Fail("the child died")
    sim.clear_fault()
    ctx.note("agent sane again")
    ctx.expect_registered("web")
    ctx.expect_status("service:web", "passing")
    ctx.finish(ost, 0, "web")


@scenario("oversized-response")
def oversized_response(ctx):
    """3 MiB answers (the library refuses bodies over 1 MiB): ostiary neither crashes
    nor grows, and recovers."""
    sim = ctx.start_sim()
    rec = ctx.recorder()
    ost = ctx.start_ostiary("web", rec)
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    before = ost.rss_kib()
    mark = sim.fault("error", status=200, body="x" * (3 * MIB))
    ctx.wait(faulted(sim, mark, "error", 3), 5.0, "no 3 MiB answers were sent")
    middle = ost.rss_kib()
    ctx.wait(faulted(sim, mark, "error", 6), 5.0, "ostiary stopped talking to the agent")
    after = ost.rss_kib()
    sim.clear_fault()
    sim.clear_log()   # each entry holds the 3 MiB answer
    ctx.note(f"RSS {before} -> {middle} -> {after} KiB over 6 oversized answers")
    if after - before > 3 * 1024:
        raise Fail(f"RSS grew by {after - before} KiB over 6 oversized answers")
    if after - middle > 1024:
        raise Fail(f"RSS keeps growing: {middle} -> {after} KiB over 3 more answers")
    ctx.expect_registered("web")
    ctx.expect_status("service:web", "passing")
    ctx.finish(ost, 0, "web")


class EndlessBody:
    """An HTTP server on 127.0.0.1 whose every answer is 200 OK with a chunked body
    that never ends (until the client goes away or the server is closed)."""

    CHUNK = b"y" * 65536

    def __init__(self):
        endless = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                frame = b"%x\r\n" % len(endless.CHUNK) + endless.CHUNK + b"\r\n"
                try:
                    while not endless.closing.is_set():
                        self.wfile.write(frame)
                        endless.sent += len(endless.CHUNK)
                except OSError:   # the client stopped reading: what we want
                    pass

            def log_message(self, *args):
                pass

        self.closing = threading.Event()
        self.sent = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


@scenario("endless-probe-body", hostile=True)
def endless_probe_body(ctx):
    """An HTTP check target that streams a body without end: the check reports the
    status code at once, and ostiary stops reading at the output cap instead of
    downloading until the probe timeout (CPU and peak memory stay flat)."""
    endless = EndlessBody()
    try:
        conf = ctx.path("ostiary.conf")
        with open(conf, "w") as handle:
            handle.write('services = ( { name = "web"; checks = (\n'
                         '  { id = "web-http"; type = "http"; interval = "300ms";\n'
                         f'    timeout = "10s"; url = "http://127.0.0.1:{endless.port}/"; }}\n'
                         '); } );\n')
        ctx.start_sim()
        ost = ctx.start_ostiary("web", ["sleep", "600"], "-c", conf)
        ctx.expect_registered("web", STARTUP)
        ctx.expect_status("web-http", "passing", within=STARTUP,
                          contains=("200 OK", "not read further"))
        peak_before, cpu_before, t_before = ost.rss_kib("VmHWM"), ost.cpu_seconds(), \
            time.monotonic()
        ctx.hold(lambda: True, 3.0, "never")   # ten more runs of the check
        cpu = (ost.cpu_seconds() - cpu_before) / (time.monotonic() - t_before)
        peak_after = ost.rss_kib("VmHWM")
        ctx.note(f"endless body: CPU {cpu:.1%} of a core; peak RSS {peak_before} -> "
                 f"{peak_after} KiB; {endless.sent // MIB} MiB sent by the target")
        if cpu > 0.25:
            raise Fail(f"ostiary used {cpu:.0%} of a core reading an endless body")
        if peak_after - peak_before > 4 * 1024:
            raise Fail(f"peak RSS grew by {peak_after - peak_before} KiB on an endless body")
        ctx.finish(ost, 128 + signal.SIGTERM, "web")
    finally:
        endless.close()


@scenario("endless-agent-body", hostile=True)
def endless_agent_body(ctx):
    """The agent answers our read-back of its checks with a body that never ends: the
    read stops at its cap (16 MiB for a batch of at most 1,024 checks), peak memory stays
    within that cap plus a small constant, and the service keeps its registration and
    status."""
    sim = ctx.start_sim()
    ost = ctx.start_ostiary("web", ["sleep", "600"], "--verify-interval", "300ms")
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    peak_before = ost.rss_kib("VmHWM")
    mark = sim.fault("endless", path_prefix="/v1/agent/checks")
    ctx.wait(faulted(sim, mark, "endless", 3), 20.0, "no endless answers were sent")
    peak_after = ost.rss_kib("VmHWM")
    sim.clear_fault()
    sim.clear_log()
    grown = peak_after - peak_before
    ctx.note(f"endless agent body: peak RSS {peak_before} -> {peak_after} KiB (+{grown})")
    cap_kib = 16 * 1024
    # The buffer never grows past the cap.  glibc moves a large block with mremap when it
    # grows; ASan's allocator copies it (old and new held at once) and adds its shadow
    # memory, so under ASan the bound is that of a copying realloc.
    limit = cap_kib + 16 * 1024 if not sanitized(ctx.opts.ostiary) else cap_kib * 5 // 2 + 16 * 1024
    if grown > limit:
        raise Fail(f"peak RSS grew by {grown} KiB reading endless answers (cap {cap_kib} KiB)")
    ctx.expect_registered("web")
    ctx.expect_status("service:web", "passing")
    ctx.finish(ost, 128 + signal.SIGTERM, "web")


@scenario("hostile-files", hostile=True)
def hostile_files(ctx):
    """A directory, a FIFO and a device given as the configuration file or the token
    file: ostiary exits 125 within a second saying "not a regular file", never hangs
    reading it and starts nothing."""
    fifo = ctx.path("fifo")
    os.mkfifo(fifo)
    sim = ctx.start_sim()
    for flag in ("-c", "--token-file"):
        for path in (ctx.dir, fifo, "/dev/zero"):
            argv = [ctx.opts.ostiary, "--http-addr", sim.addr, flag, path]
            argv += ["-t"] if flag == "-c" else ["web", "--", "sleep", "600"]
            began = time.monotonic()
            try:
                done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                      timeout=5, env=clean_env())
            except subprocess.TimeoutExpired:
                raise Fail(f"{flag} {path}: ostiary still reading after 5 s")
            took = time.monotonic() - began
            said = done.stderr.decode("utf-8", "replace")
            if done.returncode != 125 or "not a regular file" not in said or took > 1.0:
                raise Fail(f"{flag} {path}: exit {done.returncode} after {took:.2f}s: "
                           f"{said.strip()[-200:]}")
    if sim.has_service("web"):
        raise Fail("a refused start registered the service")
    ctx.note("directory, FIFO and /dev/zero refused for -c and --token-file")


@scenario("slow-responses")
def slow_responses(ctx):
    """Answers slower than --agent-timeout, then slow but in time: the service stays
    known and status changes (child stopped / continued) still reach the agent."""
    sim = ctx.start_sim()
    rec = ctx.recorder()
    ost = ctx.start_ostiary("web", rec)
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    mark = sim.fault("delay", delay_ms=1500)
    ctx.wait(faulted(sim, mark, "delay", 3), 6.0, "ostiary stopped talking to the agent")
    if not rec.alive():
        raise Fail("the child died")
    sim.fault("delay", delay_ms=500)
    ctx.note("answers now take 500 ms (under the 1 s timeout)")
    ctx.expect_registered("web")
    ctx.expect_status("service:web", "passing")
    os.kill(rec.pid(), signal.SIGSTOP)
    ctx.expect_status("service:web", "critical")
    os.kill(rec.pid(), signal.SIGCONT)
    ctx.expect_status("service:web", "passing")
    sim.clear_fault()
    ctx.finish(ost, 0, "web")


@scenario("child-crash-loop")
def child_crash_loop(ctx):
    """A child that keeps failing is restarted with growing, capped delays while the
    service stays registered and critical with "restarting ... attempt N"; SIGTERM
    ends it with the last child's status and deregisters."""
    sim = ctx.start_sim()
    starts = ctx.path("starts")
    ost = ctx.start_ostiary("crash", ["sh", "-c", f"date +%s%N >> {starts}; exit 1"],
                            "--restart", "on-failure", "--restart-delay", "200ms",
                            "--restart-max-delay", "1s")

    def start_times():
        try:
            with open(starts) as handle:
                return [int(line) / 1e9 for line in handle.read().split()]
        except FileNotFoundError:
            return []
    ctx.expect_registered("crash", STARTUP)

    def six_starts_while_registered():
        if not sim.has_service("crash"):
            raise Fail("service crash vanished between restarts", lost="registration")
        return len(start_times()) >= 6
    ctx.wait(six_starts_while_registered, 8.0, "fewer than 6 starts")
    check = ctx.expect_status("service:crash", "critical", contains=("restarting", "attempt"))
    if not re.search(r"attempt \d+", check["Output"]):
        raise Fail(f"no attempt number in the check output: {check['Output']!r}")
    times = start_times()
    gaps = [round(b - a, 2) for a, b in zip(times, times[1:])]
    ctx.note(f"gaps between starts: {gaps}")
    if not (gaps[1] > 1.4 * gaps[0] and gaps[2] > 1.4 * gaps[1]):
        raise Fail(f"restart delays do not back off: {gaps}")
    if max(gaps) > 1.45 or min(gaps[-2:]) < 0.8:   # uncapped, the 4th would be 1.6s
        raise Fail(f"restart delays not capped at 1s: {gaps}")
    if sim.requests(method="PUT", prefix="/v1/agent/service/deregister/"):
        raise Fail("the service was deregistered between restarts")
    ctx.finish(ost, 1, "crash")


@scenario("child-ignores-sigterm")
def child_ignores_sigterm(ctx):
    """A child that ignores SIGTERM is SIGKILLed --kill-timeout later; ostiary exits
    137 and the service is deregistered."""
    ctx.start_sim()
    rec = ctx.recorder("--ignore-term")
    ost = ctx.start_ostiary("web", rec, "--kill-timeout", "1s")
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    pid = rec.pid()
    ost.term()
    termed = ctx.wait(lambda: rec.got(signal.SIGTERM), 4.0, "the child never got SIGTERM")
    ctx.wait(lambda: not pid_alive(pid), 3.0, "the child was not killed")
    gap = time.monotonic() - termed
    ctx.note(f"child gone {gap:.2f}s after its SIGTERM")
    if not 0.9 <= gap <= 2.0:
        raise Fail(f"SIGKILL came {gap:.2f}s after SIGTERM, not ~1s (--kill-timeout 1s)")
    ctx.expect_exit(ost, 128 + signal.SIGKILL, 3.0)
    ctx.expect_gone("web")


@scenario("ostiary-sigkilled")
def ostiary_sigkilled(ctx):
    """If ostiary itself is SIGKILLed, the agent removes the service on its own: TTL
    expiry -> critical "TTL expired" -> DeregisterCriticalServiceAfter."""
    sim = ctx.start_sim("--dcsa-min", "0s", "--reap-interval", "200ms")
    rec = ctx.recorder()
    # A 4 s critical window before the reap: the polls must not miss it on a busy machine
    # (2 s was missed once with three test suites sharing two cores under ASan).
    ost = ctx.start_ostiary("web", rec, "--ttl", "1s", "--deregister-after", "4s")
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    ost.kill()
    kill_quietly(rec.pid())
    killed = time.monotonic()
    ctx.note("ostiary and its child SIGKILLed")
    expired = {}

    def ttl_expired():
        check = sim.check("service:web")
        if check and check["Status"] == "critical" and "TTL expired" in check["Output"]:
            expired["at"] = time.monotonic()
        return expired or check is None
    ctx.wait(ttl_expired, 3.0, "the check never turned critical with TTL expired")
    if not expired:
        raise Fail("the service vanished without its check turning critical first")
    ctx.wait(lambda: not sim.has_service("web"), 6.0,
             "the agent did not reap the service (DeregisterCriticalServiceAfter)")
    ctx.note(f"reaped {time.monotonic() - killed:.1f}s after the SIGKILL")


@scenario("drain-order")
def drain_order(ctx):
    """SIGTERM: maintenance on the agent first, the child signalled no earlier than
    --drain-delay later, deregistration only after the child exited, and the child's
    exit code."""
    sim = ctx.start_sim()
    rec = ctx.recorder("--exit", "3")
    ost = ctx.start_ostiary("web", rec, "--drain", "maintenance", "--drain-delay", "800ms")
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    ctx.wait(rec.alive, 2.0, "the child is not running")
    ost.term()
    ctx.expect_exit(ost, 3)
    maint = sim.requests("PUT", "/v1/agent/service/maintenance/web")
    dereg = sim.requests("PUT", "/v1/agent/service/deregister/web")
    termed = rec.got(signal.SIGTERM)
    if not maint or maint[0]["status"] != 200 or \
            not re.search(r"(^|&)enable=true(&|$)", maint[0]["query"]) or \
            "reason=" not in maint[0]["query"]:
        raise Fail(f"no maintenance PUT ?enable=true&reason=... answered 200: {maint[:1]}")
    if termed is None:
        raise Fail("the child never got SIGTERM")
    if not dereg:
        raise Fail("no deregistration reached the agent")
    ctx.note(f"maintenance +{termed - maint[0]['t']:.3f}s child SIGTERM "
             f"+{dereg[0]['t'] - termed:.3f}s deregister")
    if termed < maint[0]["t"] + 0.8 - 0.01:
        raise Fail(f"the child got SIGTERM {termed - maint[0]['t']:.3f}s after the "
                   "maintenance PUT (drain delay 800ms)")
    if dereg[0]["t"] < termed:
        raise Fail(f"deregistered {termed - dereg[0]['t']:.3f}s before the child exited")
    ctx.expect_gone("web")


@scenario("silent-deregistration")
def silent_deregistration(ctx):
    """Someone else deregisters the service behind ostiary's back: --verify-interval
    finds and repairs it, even when no heartbeat push is due for a long time."""
    sim = ctx.start_sim()
    rec = ctx.recorder()
    ost = ctx.start_ostiary("web", rec, "--ttl", "30s", "--heartbeat", "20s",
                            "--verify-interval", "1s")
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    status, body = sim.agent("PUT", "/v1/agent/service/deregister/web")
    if status != 200 or sim.has_service("web"):
        raise Fail(f"could not deregister behind ostiary's back: {status} {body!r}")
    ctx.note("deregistered by someone else")
    ctx.expect_registered("web")
    ctx.expect_status("service:web", "passing")
    ctx.finish(ost, 0, "web")


@scenario("fail-closed")
def fail_open_and_closed(ctx):
    """By default (fail-open) the child survives an agent outage; with --fail-closed D
    the child is stopped after D without the agent and ostiary exits with its status."""
    sim = ctx.start_sim()
    rec = ctx.recorder()
    ost = ctx.start_ostiary("web", rec)
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    sim.stop()
    ctx.note("fail-open: agent stopped")
    ctx.hold(lambda: rec.alive() and not rec.signals(), 4.0,
             "fail-open: the child was disturbed by the agent outage")
    sim.start()
    ctx.expect_registered("web")
    ctx.expect_status("service:web", "passing")
    ctx.finish(ost, 0, "web")
    ctx.note("fail-open passed")

    rec = ctx.recorder("--exit", "5")
    ost = ctx.start_ostiary("web", rec, "--fail-closed", "2s")
    ctx.expect_registered("web", STARTUP)
    ctx.expect_status("service:web", "passing")
    ost.watch = False
    sim.stop()
    stopped = time.monotonic()
    ctx.note("fail-closed: agent stopped")
    ctx.expect_exit(ost, 5, within=2 + 4)
    if not rec.signals():
        raise Fail("fail-closed: the child was not sent a stop signal")
    termed = rec.signals()[0][1]
    # Unreachable "for D" may be counted from the last answer, up to a heartbeat earlier.
    if termed < stopped + 2 - 0.5 - 0.05:
        raise Fail(f"fail-closed: the child was stopped {termed - stopped:.2f}s into the "
                   "outage, before --fail-closed 2s")
    ctx.note(f"child stopped {termed - stopped:.1f}s into the outage")


@scenario("leftovers")
def leftovers(ctx):
    """A service left by a SIGKILLed earlier run with the same owner is removed at
    start; services registered by anyone else are never touched."""
    sim = ctx.start_sim()
    for service_id, meta in (("bystander", {}), ("neighbour", {"ostiary-owner": "other"})):
        status, body = sim.agent("PUT", "/v1/agent/service/register",
                                 {"ID": service_id, "Name": service_id, "Meta": meta})
        if status != 200:
            raise Fail(f"cannot register {service_id}: {status} {body!r}")
    rec = ctx.recorder()
    first = ctx.start_ostiary("app", rec, "--id", "a1", "--owner", "grp")
    ctx.expect_registered("a1", STARTUP)
    meta = sim.service("a1").get("Meta") or {}
    if meta.get("ostiary-owner") != "grp":
        raise Fail(f"a1 carries no ostiary-owner=grp meta: {meta}")
    first.kill()
    kill_quietly(rec.pid())
    ctx.note("first run SIGKILLed, a1 left behind")

    rec = ctx.recorder()
    second = ctx.start_ostiary("app", rec, "--id", "a2", "--owner", "grp")
    ctx.expect_registered("a2", STARTUP)
    ctx.expect_status("service:a2", "passing")
    ctx.wait(lambda: not sim.has_service("a1"), RECOVERY, "leftover a1 not removed")
    for service_id in ("bystander", "neighbour"):
        if not sim.has_service(service_id) or \
                sim.requests("PUT", f"/v1/agent/service/deregister/{service_id}"):
            raise Fail(f"{service_id} (not ours) was deregistered")
    for entry in sim.requests("PUT", "/v1/agent/service/register"):
        if '"a1"' in entry["body"] or '"a2"' in entry["body"]:
            if "replace-existing-checks=true" not in entry["query"]:
                raise Fail(f"registration without replace-existing-checks=true: "
                           f"?{entry['query']}")
    ctx.finish(second, 0, "a2")
    if not (sim.has_service("bystander") and sim.has_service("neighbour")):
        raise Fail("a service that is not ours vanished at shutdown")


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description="ostiary fault-injection suite")
    parser.add_argument("--ostiary", default=os.path.join(ROOT, "build", "ostiary"))
    parser.add_argument("--sim", default=os.path.join(ROOT, "tests", "sim", "consul_sim.py"))
    parser.add_argument("--helpers", default=os.path.join(ROOT, "build", "tests", "helpers"))
    parser.add_argument("--only", nargs="+", action="extend", default=[], metavar="NAME",
                        help="run only these scenarios (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each step")
    opts = parser.parse_args(argv)
    names = [name for name, _ in SCENARIOS]
    unknown = [name for name in opts.only if name not in names]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)} (see --list)")
    if not opts.list:
        for what, path in (("--ostiary", opts.ostiary), ("--sim", opts.sim),
                           ("--helpers", os.path.join(opts.helpers, "sigrecorder"))):
            if not os.path.exists(path):
                parser.error(f"{what}: {path} does not exist (run make first?)")
        opts.ostiary = os.path.abspath(opts.ostiary)
        opts.sim = os.path.abspath(opts.sim)
        opts.helpers = os.path.abspath(opts.helpers)
    return opts


def run_one(opts, name, func, root, width):
    """Returns (passed, lost kind or None)."""
    workdir = os.path.join(root, name)
    os.mkdir(workdir)
    ctx = Scenario(opts, name, workdir)
    failure = None
    try:
        func(ctx)
    except Fail as err:
        failure = err
    except Exception:   # a bug in the scenario or the harness: report, go on
        failure = Fail("harness error:\n" + traceback.format_exc().rstrip())
    finally:
        ctx.cleanup()
    took = time.monotonic() - ctx.t0
    if failure is None:
        print(f"ok   {name:<{width}}  {took:.1f}s", flush=True)
        shutil.rmtree(workdir, ignore_errors=True)
        return True, None
    lost = f" [lost {failure.lost}]" if failure.lost else ""
    print(f"FAIL {name}: {failure.reason}{lost}  ({took:.1f}s)", flush=True)
    for line in ctx.failure_details():
        print(f"     {line}", flush=True)
    return False, failure.lost


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    if opts.list:
        for name, func in SCENARIOS:
            print(f"{name:<26} {' '.join(func.__doc__.split())}")
        return 0
    selected = [(n, f) for n, f in SCENARIOS if not opts.only or n in opts.only]
    width = max(len(n) for n, _ in selected)
    root = tempfile.mkdtemp(prefix="ostiary-fault-")
    passed, lost = 0, dict.fromkeys(LOST_KINDS, 0)
    hostile_run = hostile_bounded = 0
    try:
        for name, func in selected:
            ok, kind = run_one(opts, name, func, root, width)
            passed += ok
            if name in HOSTILE:
                hostile_run += 1
                hostile_bounded += ok
            if kind:
                lost[kind] += 1
    finally:
        if not os.listdir(root):
            os.rmdir(root)
    failed = len(selected) - passed
    print(f"fault-injection: {len(selected)} scenarios run, {passed} passed, {failed} failed; "
          f"lost: {lost['registration']} registrations, {lost['status']} statuses, "
          f"{lost['exit']} exit statuses; hostile inputs: {hostile_run} run, "
          f"{hostile_bounded} kept bounded", flush=True)
    return 0 if failed == 0 and not any(lost.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
