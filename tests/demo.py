#!/usr/bin/env python3
"""make demo: ostiary doing its job against the bundled Consul agent simulator.

It wraps a small service, and shows what the agent sees as the service runs,
is paused, the agent loses its state, and the service is stopped.
Usage: demo.py path/to/ostiary
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "sim", "consul_sim.py")
CHECK = "service:web-1"


def say(text):
    print("\n\033[1m== %s\033[0m" % text if sys.stdout.isatty() else "\n== %s" % text, flush=True)


def http(port, method, path):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            body = resp.read()
    except urllib.error.HTTPError as err:
        body = err.read()
    return json.loads(body) if body[:1] in (b"{", b"[") else body.decode()


def check(ready):
    return http(ready["agent_port"], "GET", "/v1/agent/checks").get(CHECK)


def wait_for(what, condition, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)  # poll interval until the deadline
    raise SystemExit("demo: timed out waiting for " + what)


def child_of(pid):
    """The first process whose parent is pid (read from /proc, no procps needed)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        return int(entry)
            except (OSError, ValueError, IndexError):
                continue
    return None


def show_check(ready):
    c = check(ready)
    if c is None:
        print("agent: no check %s" % CHECK)
    else:
        print("agent: check %s is %s: %s" % (CHECK, c["Status"], c["Output"]))


def main():
    ostiary = os.path.abspath(sys.argv[1])
    sim = subprocess.Popen([sys.executable, SIM, "--port", "0", "--control-port", "0"],
                           stdout=subprocess.PIPE, text=True)
    ready = json.loads(sim.stdout.readline())
    agent = "127.0.0.1:%d" % ready["agent_port"]
    say("Consul agent simulator listening on %s" % agent)

    command = [ostiary, "--http-addr", agent, "--ttl", "3s", "--heartbeat", "1s",
               "--id", "web-1", "--tags", "demo", "--meta", "owner=ops", "--port", "8080",
               "web", "--", "sh", "-c", "echo 'web: serving'; exec sleep 3600"]
    say("starting: ostiary " + " ".join(command[1:]))
    proc = subprocess.Popen(command)
    try:
        wait_for("the check to pass", lambda: (check(ready) or {}).get("Status") == "passing")
        say("registered; what the agent knows about the service")
        print(json.dumps(http(ready["agent_port"], "GET", "/v1/agent/services"), indent=2))
        show_check(ready)

        child = child_of(proc.pid)
        say("pausing the service with SIGSTOP (pid %d)" % child)
        os.kill(child, signal.SIGSTOP)
        wait_for("critical", lambda: (check(ready) or {}).get("Status") == "critical")
        show_check(ready)
        say("resuming it with SIGCONT")
        os.kill(child, signal.SIGCONT)
        wait_for("passing", lambda: (check(ready) or {}).get("Status") == "passing")
        show_check(ready)

        say("restarting the agent without its data (like `consul agent -dev`)")
        http(ready["control_port"], "POST", "/restart")
        show_check(ready)
        wait_for("re-registration", lambda: (check(ready) or {}).get("Status") == "passing")
        show_check(ready)

        say("stopping ostiary with SIGTERM: deregister first, then stop the service")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        show_check(ready)
        print("ostiary exited with %d (128 + SIGTERM: sleep was killed by the signal)" % code)
        requests = [r for r in http(ready["control_port"], "GET", "/log")
                    if r["headers"].get("user-agent", "").startswith("ostiary")]
        say("the requests ostiary sent to the agent")
        for r in requests:
            print("  %-4s %-48s -> %d" % (r["method"], r["path"], r["status"]))
    finally:
        if proc.poll() is None:
            proc.kill()
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
