#!/usr/bin/env python3
"""make demo: ostiary doing its job against the bundled Consul agent simulator.

It wraps a real web server (python3 -m http.server) with three checks from a
configuration file - the process itself, an HTTP probe and a TCP probe - and
shows what the agent sees as the server runs, gets new configuration from
Consul KV (a drain-aware restart), is paused, the agent loses its state, and the
server is stopped.
Usage: demo.py path/to/ostiary
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "sim", "consul_sim.py")
CHECKS = ("web-1:process", "web-1:http", "web-1:tcp")
CONFIG = """# written by tests/demo.py
command = [ "%(python)s", "%(server)s", "%(port)d" ];
services = (
  { name = "web"; id = "web-1"; port = %(port)d; tags = [ "demo" ]; meta = { owner = "ops"; };
    checks = (
      { id = "web-1:process"; type = "process"; ttl = "3s"; },
      { id = "web-1:http"; type = "http"; url = "http://127.0.0.1:%(port)d/";
        interval = "1s"; timeout = "500ms"; },
      { id = "web-1:tcp"; type = "tcp"; tcp = "127.0.0.1:%(port)d"; interval = "1s"; }
    ); }
);
kv = { env = [ "web/" ]; wait = "500ms"; };  # web/greeting -> GREETING
"""


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


# The web server ostiary wraps: python's http.server, without its access log
# and without tracebacks for clients that went away (the probes that timed
# out while it was paused).
SERVER = """import http.server, os, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        if self.path != "/greeting":
            return super().do_GET()
        body = os.environ.get("GREETING", "(unset)").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass
Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def kv_put(ready, key, value):
    req = urllib.request.Request("http://127.0.0.1:%d/v1/kv/%s" % (ready["agent_port"], key),
                                 data=value.encode(), method="PUT")
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


def greeting(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/greeting" % port, timeout=5) as resp:
            return resp.read().decode()
    except OSError:
        return None  # between the old server and the new one


def checks(ready):
    return http(ready["agent_port"], "GET", "/v1/agent/checks")


def status_of(ready):
    return {cid: (checks(ready).get(cid) or {}).get("Status") for cid in CHECKS}


def all_are(ready, status):
    return lambda: all(s == status for s in status_of(ready).values())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def show_checks(ready):
    current = checks(ready)
    for cid in CHECKS:
        c = current.get(cid)
        if c is None:
            print("agent: no check %s" % cid)
        else:
            print("agent: %-14s %-8s %s" % (cid, c["Status"], c["Output"][:90]))


def main():
    ostiary = os.path.abspath(sys.argv[1])
    sim = subprocess.Popen([sys.executable, SIM, "--port", "0", "--control-port", "0"],
                           stdout=subprocess.PIPE, text=True)
    ready = json.loads(sim.stdout.readline())
    agent = "127.0.0.1:%d" % ready["agent_port"]
    say("Consul agent simulator listening on %s" % agent)

    directory = tempfile.mkdtemp(prefix="ostiary-demo-")
    config = os.path.join(directory, "demo.conf")
    server = os.path.join(directory, "web_server.py")
    with open(server, "w") as f:
        f.write(SERVER)
    port = free_port()
    with open(config, "w") as f:
        f.write(CONFIG % {"python": sys.executable, "server": server, "port": port})
    say("putting web/greeting = hello in Consul KV")
    kv_put(ready, "web/greeting", "hello")
    say("the configuration: %s" % config)
    print(open(config).read().rstrip())
    command = [ostiary, "--http-addr", agent, "-c", config]
    say("checking it: ostiary -t -c %s" % config)
    subprocess.run(command + ["-t"], check=True)
    say("starting: ostiary " + " ".join(command[1:]))
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_for("the checks to pass", all_are(ready, "passing"))
        say("registered; what the agent knows about the service")
        print(json.dumps(http(ready["agent_port"], "GET", "/v1/agent/services"), indent=2))
        show_checks(ready)
        print("GET /greeting -> %s (GREETING, from web/greeting)" % greeting(port))

        say("changing web/greeting to bonjour: a restart for new configuration, as a drain")
        kv_put(ready, "web/greeting", "bonjour")
        wait_for("the drain", lambda: "restarting for new configuration" in
                 (checks(ready).get("web-1:process") or {}).get("Output", ""))
        show_checks(ready)
        wait_for("the new server", lambda: all_are(ready, "passing")() and
                 greeting(port) == "bonjour")
        show_checks(ready)
        print("GET /greeting -> %s; the service stayed registered throughout"
              % greeting(port))

        child = child_of(proc.pid)
        say("pausing the web server with SIGSTOP (pid %d)" % child)
        os.kill(child, signal.SIGSTOP)
        wait_for("the HTTP probe to fail",
                 lambda: status_of(ready)["web-1:http"] == "critical"
                 and status_of(ready)["web-1:process"] == "critical")
        show_checks(ready)
        print("(the kernel still completes TCP handshakes for a paused server: only a real\n"
              " request shows it is not serving)")
        say("resuming it with SIGCONT")
        os.kill(child, signal.SIGCONT)
        wait_for("passing", all_are(ready, "passing"))
        show_checks(ready)

        say("restarting the agent without its data (like `consul agent -dev`)")
        http(ready["control_port"], "POST", "/restart")
        # A dev agent forgets its KV too; a cluster's servers would still hold it.
        kv_put(ready, "web/greeting", "bonjour")
        show_checks(ready)
        wait_for("re-registration", all_are(ready, "passing"))
        show_checks(ready)

        say("stopping ostiary with SIGTERM: maintenance, the drain delay, the server's "
            "SIGTERM, then deregistration")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        show_checks(ready)
        print("ostiary exited with %d (128 + SIGTERM: the server was killed by the signal)"
              % code)
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
