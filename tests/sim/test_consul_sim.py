#!/usr/bin/env python3
"""Self-test of the Consul agent simulator (stdlib unittest).

    python3 tests/sim/test_consul_sim.py

Every wait polls a condition against a deadline; nothing sleeps hoping for timing.
"""

import http.client
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "consul_sim.py")
MAKE_CERTS = os.path.join(HERE, "make-certs.sh")
DEADLINE = 5.0


def wait_for(condition, timeout=DEADLINE, interval=0.02):
    """Poll condition() until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)  # poll interval until the deadline


class Sim:
    """One simulator process."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, SIM, *args], stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        if not ready:
            self.proc.kill()
            raise RuntimeError("simulator did not announce itself")
        info = json.loads(self.proc.stdout.readline())
        self.agent_port, self.control_port = info["agent_port"], info["control_port"]
        self.pid, self.tls = info["pid"], info["tls"]

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.control("POST", "/quit")
            except OSError:
                pass
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    # -- HTTP ---------------------------------------------------------------

    def agent(self, method, path, body=None, headers=None, timeout=5):
        return request(self.agent_port, method, path, body, headers, timeout)

    def put(self, path, body=None, **kwargs):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        return self.agent("PUT", path, body, **kwargs)

    def get_json(self, path, **kwargs):
        status, _, text = self.agent("GET", path, **kwargs)
        return status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)

    def control(self, method, path, body=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        status, _, text = request(self.control_port, method, path, body)
        return status, json.loads(text)

    def state(self):
        return self.control("GET", "/state")[1]

    def check(self, check_id):
        return self.state()["checks"].get(check_id)

    def log(self, since=0):
        return self.control("GET", f"/log?since={since}")[1]

    def wait_check(self, check_id, status, timeout=DEADLINE):
        def reached():
            check = self.check(check_id)
            return check if check and check["Status"] == status else None
        return wait_for(reached, timeout)


def request(port, method, path, body=None, headers=None, timeout=5):
    """One request on a fresh connection: (status, headers, body text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        connection.close()


def ttl_service(service_id, ttl="30s", name=None, **check):
    check.setdefault("CheckID", f"{service_id}:ttl")
    check.setdefault("TTL", ttl)
    return {"ID": service_id, "Name": name or service_id, "Check": check}


class SharedSimTest(unittest.TestCase):
    """Tests that use unique IDs and can share one simulator."""
    args = ()

    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(*cls.args)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def register(self, body, query=""):
        status, _, text = self.sim.put("/v1/agent/service/register" + query, body)
        self.assertEqual((status, text), (200, ""), f"registering {body}")


class TestHttpBehaviour(SharedSimTest):
    def test_wrong_method_is_405_with_allow(self):
        status, headers, text = self.sim.agent("GET", "/v1/agent/service/register")
        self.assertEqual((status, text), (405, "method GET not allowed"))
        self.assertEqual(headers["Allow"], "OPTIONS,PUT")
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        status, headers, text = self.sim.agent("POST", "/v1/agent/check/pass/x")
        self.assertEqual((status, text, headers["Allow"]), (405, "method POST not allowed",
                                                            "OPTIONS,PUT"))
        status, headers, text = self.sim.agent("PUT", "/v1/agent/services")
        self.assertEqual((status, text, headers["Allow"]), (405, "method PUT not allowed",
                                                            "OPTIONS,GET"))

    def test_options_lists_methods(self):
        status, headers, text = self.sim.agent("OPTIONS", "/v1/agent/check/update/x")
        self.assertEqual((status, text, headers["Allow"]), (200, "", "OPTIONS,PUT"))

    def test_unknown_path_is_404(self):
        status, _, text = self.sim.agent("GET", "/v1/agent/nonsense")
        self.assertEqual(status, 404)
        self.assertEqual(text.strip(), "Invalid URL path: not a recognized HTTP API endpoint")

    def test_every_response_names_the_acl_policy(self):
        for method, path in (("GET", "/v1/agent/services"), ("GET", "/v1/nope"),
                             ("GET", "/v1/agent/service/register")):
            _, headers, _ = self.sim.agent(method, path)
            self.assertEqual(headers["X-Consul-Default-ACL-Policy"], "allow", path)

    def test_write_success_is_200_with_empty_body(self):
        status, headers, text = self.sim.put("/v1/agent/service/register", ttl_service("ok-1"))
        self.assertEqual((status, text, headers["Content-Length"]), (200, "", "0"))

    def test_keep_alive_connection_serves_several_requests(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.sim.agent_port, timeout=5)
        try:
            for _ in range(3):
                connection.request("GET", "/v1/agent/services")
                response = connection.getresponse()
                response.read()
                self.assertEqual(response.status, 200)
        finally:
            connection.close()


class TestStrictJson(SharedSimTest):
    def assert_decode_error(self, path, body, message):
        status, _, text = self.sim.put(path, body)
        self.assertEqual((status, text), (400, "Request decode failed: " + message))

    def test_unknown_field_is_rejected(self):
        self.assert_decode_error("/v1/agent/service/register",
                                 {"Service": "web", "Name": "web"},
                                 'json: unknown field "Service"')

    def test_embedded_check_takes_check_id_not_id(self):
        self.assert_decode_error("/v1/agent/service/register",
                                 {"Name": "emb", "Check": {"ID": "x", "TTL": "10s"}},
                                 'json: unknown field "ID"')
        self.assert_decode_error("/v1/agent/service/register",
                                 {"Name": "emb", "Checks": [{"ID": "x", "TTL": "10s"}]},
                                 'json: unknown field "ID"')
        self.register({"Name": "emb", "Check": {"CheckID": "emb:c", "TTL": "10s"}})

    def test_check_register_takes_id_not_check_id(self):
        self.assert_decode_error("/v1/agent/check/register",
                                 {"CheckID": "c", "Name": "c", "TTL": "10s"},
                                 'json: unknown field "CheckID"')
        self.assert_decode_error("/v1/agent/check/register",
                                 {"ID": "c", "Name": "c", "TTL": "10s", "Output": "x"},
                                 'json: unknown field "Output"')
        status, _, _ = self.sim.put("/v1/agent/check/register",
                                    {"ID": "node-check", "Name": "c", "TTL": "10s"})
        self.assertEqual(status, 200)

    def test_field_names_match_case_insensitively(self):
        self.register({"name": "lower", "id": "lower-1", "check": {"checkid": "lower:c",
                                                                   "ttl": "10s"}})
        self.assertIn("lower-1", self.sim.state()["services"])

    def test_snake_case_aliases(self):
        self.register({"Name": "snake", "enable_tag_override": True,
                       "Check": {"CheckID": "snake:c", "TTL": "10s",
                                 "deregister_critical_service_after": "5m"}})
        self.assertTrue(self.sim.state()["services"]["snake"]["EnableTagOverride"])

    def test_empty_and_malformed_bodies(self):
        self.assert_decode_error("/v1/agent/service/register", "", "EOF")
        status, _, text = self.sim.put("/v1/agent/service/register", "{\"Name\": ")
        self.assertEqual(status, 400)
        self.assertTrue(text.startswith("Request decode failed: "), text)

    def test_durations_strings_and_nanoseconds(self):
        self.register(ttl_service("dur-1", ttl="1m30s"))
        self.register({"Name": "dur-2", "Check": {"CheckID": "dur-2:c", "TTL": 15e9}})
        self.register({"Name": "dur-3", "Check": {"CheckID": "dur-3:c", "TTL": "1.5h"}})
        self.assert_decode_error("/v1/agent/service/register", ttl_service("dur-4", ttl="ten"),
                                 'time: invalid duration "ten"')
        self.assert_decode_error("/v1/agent/service/register", ttl_service("dur-5", ttl="10"),
                                 'time: missing unit in duration "10"')

    def test_update_body_is_strict(self):
        self.register(ttl_service("upd-strict"))
        self.assert_decode_error("/v1/agent/check/update/upd-strict:ttl",
                                 {"Status": "passing", "Notes": "x"},
                                 'json: unknown field "Notes"')


class TestRegistration(SharedSimTest):
    def test_defaults(self):
        self.register({"Name": "dflt", "Check": {"TTL": "10s"}})
        state = self.sim.state()
        service = state["services"]["dflt"]
        self.assertEqual((service["ID"], service["Service"], service["Tags"], service["Meta"]),
                         ("dflt", "dflt", [], {}))
        self.assertEqual(service["Weights"], {"Passing": 1, "Warning": 1})
        self.assertEqual(service["Datacenter"], "dc1")
        check = state["checks"]["service:dflt"]
        self.assertEqual((check["Name"], check["Status"], check["Type"], check["ServiceName"]),
                         ("Service 'dflt' check", "critical", "ttl", "dflt"))
        self.assertEqual((check["Node"], check["ExposedPort"], check["Definition"]),
                         ("sim-node", 0, {}))

    def test_several_checks_are_numbered(self):
        self.register({"Name": "multi", "Checks": [{"TTL": "10s"}, {"TTL": "10s",
                                                                     "Status": "passing"}]})
        checks = self.sim.state()["checks"]
        self.assertEqual(checks["service:multi:1"]["Status"], "critical")
        self.assertEqual(checks["service:multi:2"]["Status"], "passing")

    def test_tagged_addresses_for_an_ip(self):
        self.register(dict(ttl_service("addr-1"), Address="10.0.0.5", Port=8080))
        tagged = self.sim.state()["services"]["addr-1"]["TaggedAddresses"]
        self.assertEqual(tagged["lan_ipv4"], {"Address": "10.0.0.5", "Port": 8080})
        self.assertEqual(set(tagged), {"lan_ipv4", "wan_ipv4"})

    def test_validation_errors(self):
        cases = [
            ({"ID": "x"}, 400, "Missing service name"),
            ({"Name": "v", "Address": "0.0.0.0"}, 400, "Invalid service address"),
            ({"Name": "v", "Weights": {"Passing": 0, "Warning": 1}}, 400,
             "Invalid Weights: Passing must be greater than 0"),
            ({"Name": "v", "Meta": {"bad key": "x"}}, 400,
             "Invalid Service Meta: Couldn't load metadata pair ('bad key', 'x'): "
             "Key contains invalid characters"),
            ({"Name": "v", "Check": {"TTL": "10s", "Interval": "10s"}}, 400,
             "Invalid check: Interval and TTL cannot both be specified"),
            ({"Name": "v", "Check": {"Name": "no type"}}, 400,
             "Invalid check: TTL must be > 0 for TTL checks"),
            ({"Name": "v", "Check": {"TTL": "10s", "Status": "ok"}}, 400,
             "Status for checks must 'passing', 'warning', 'critical'"),
            ({"Name": "v", "Check": {"Args": ["/bin/true"], "Interval": "10s"}}, 500,
             "Scripts are disabled on this agent from remote calls; to enable, configure "
             "'enable_script_checks' to true"),
        ]
        for body, status, text in cases:
            with self.subTest(body=body):
                self.assertEqual(self.sim.put("/v1/agent/service/register", body)[::2],
                                 (status, text))
        self.assertNotIn("v", self.sim.state()["services"])

    def test_http_check_is_stored_not_run(self):
        http_check = {"CheckID": "httpc:h", "HTTP": "http://127.0.0.1:1/", "Interval": "10s"}
        self.register({"Name": "httpc", "Check": http_check})
        check = self.sim.check("httpc:h")
        self.assertEqual((check["Type"], check["Interval"], check["Status"]),
                         ("http", "10s", "critical"))

    def test_reregistration_keeps_status_and_output(self):
        self.register(ttl_service("rereg"))
        self.assertEqual(self.sim.put("/v1/agent/check/pass/rereg:ttl?note=all+good")[0], 200)
        self.register(ttl_service("rereg", Status="critical"))
        check = self.sim.check("rereg:ttl")
        self.assertEqual((check["Status"], check["Output"]), ("passing", "all good"))

    def test_reregistration_restarts_the_ttl(self):
        self.register(ttl_service("restart", ttl="1500ms", Status="passing"))
        started = time.monotonic()
        wait_for(lambda: time.monotonic() - started >= 0.5)
        self.register(ttl_service("restart", ttl="1500ms"))
        rearmed = time.monotonic()
        # Past the first timer (started + 1.5 s) but well inside the new one.
        wait_for(lambda: time.monotonic() - started >= 1.75)
        status = self.sim.check("restart:ttl")["Status"]
        if time.monotonic() - rearmed < 1.3:   # only meaningful if we were not descheduled
            self.assertEqual(status, "passing")
        self.assertIsNotNone(self.sim.wait_check("restart:ttl", "critical"))

    def test_checks_missing_from_reregistration(self):
        two = {"Name": "repl", "Checks": [{"CheckID": "repl:a", "TTL": "10s"},
                                          {"CheckID": "repl:b", "TTL": "10s"}]}
        one = {"Name": "repl", "Checks": [{"CheckID": "repl:a", "TTL": "10s"}]}
        for query, kept in (("", True), ("?replace-existing-checks=1", True),
                            ("?replace-existing-checks", False),
                            ("?replace-existing-checks=true", False)):
            with self.subTest(query=query):
                self.register(two)
                self.register(one, query)
                self.assertEqual("repl:b" in self.sim.state()["checks"], kept)

    def test_check_register_defaults(self):
        self.register(ttl_service("creg"))
        status, _, _ = self.sim.put("/v1/agent/check/register",
                                    {"Name": "creg-extra", "ServiceID": "creg", "TTL": "10s"})
        self.assertEqual(status, 200)
        check = self.sim.check("creg-extra")
        self.assertEqual((check["Status"], check["ServiceName"], check["Interval"]),
                         ("critical", "creg", "0s"))
        self.assertEqual(self.sim.put("/v1/agent/check/register",
                                      {"Name": "orphan", "ServiceID": "ghost", "TTL": "1s"})[::2],
                         (404, 'ServiceID "ghost" does not exist'))
        self.assertEqual(self.sim.put("/v1/agent/check/register", {"TTL": "1s"})[::2],
                         (400, "Missing check name"))
        self.assertEqual(self.sim.put("/v1/agent/check/register",
                                      {"Name": "s", "TTL": "1s", "Status": "up"})[::2],
                         (400, "Bad check status"))

    def test_deregister_removes_service_and_checks(self):
        self.register(ttl_service("gone"))
        self.sim.put("/v1/agent/check/register", {"Name": "gone-2", "ServiceID": "gone",
                                                  "TTL": "10s"})
        self.assertEqual(self.sim.put("/v1/agent/service/deregister/gone")[::2], (200, ""))
        state = self.sim.state()
        self.assertNotIn("gone", state["services"])
        self.assertFalse({"gone:ttl", "gone-2"} & set(state["checks"]))
        self.assertEqual(self.sim.put("/v1/agent/service/deregister/gone")[::2],
                         (404, 'Unknown service ID "gone". Ensure that the service ID is '
                               'passed, not the service name.'))


class TestTtlChecks(SharedSimTest):
    def test_pass_warn_fail_and_note(self):
        self.register(ttl_service("pwf"))
        for verb, status in (("pass", "passing"), ("warn", "warning"), ("fail", "critical")):
            self.assertEqual(self.sim.put(f"/v1/agent/check/{verb}/pwf:ttl?note={verb}ed")[0],
                             200)
            check = self.sim.check("pwf:ttl")
            self.assertEqual((check["Status"], check["Output"]), (status, verb + "ed"))
        self.sim.put("/v1/agent/check/pass/pwf:ttl")
        self.assertEqual(self.sim.check("pwf:ttl")["Output"], "")

    def test_update_endpoint(self):
        self.register(ttl_service("upd"))
        self.assertEqual(self.sim.put("/v1/agent/check/update/upd:ttl",
                                      {"Status": "warning", "Output": "slow"})[::2], (200, ""))
        check = self.sim.check("upd:ttl")
        self.assertEqual((check["Status"], check["Output"]), ("warning", "slow"))
        for body, shown in (({"Status": "ok"}, "ok"), ({}, ""), ({"Status": "Passing"},
                                                                   "Passing")):
            self.assertEqual(self.sim.put("/v1/agent/check/update/upd:ttl", body)[::2],
                             (400, f"Invalid check status: '{shown}'"))

    def test_expiry_without_output(self):
        self.register(ttl_service("exp-1", ttl="300ms", Status="passing"))
        check = self.sim.wait_check("exp-1:ttl", "critical")
        self.assertIsNotNone(check)
        self.assertEqual(check["Output"], "TTL expired")

    def test_expiry_with_last_output(self):
        self.register(ttl_service("exp-2", ttl="300ms"))
        self.sim.put("/v1/agent/check/pass/exp-2:ttl?note=still%20here")
        self.assertEqual(self.sim.check("exp-2:ttl")["Status"], "passing")
        check = self.sim.wait_check("exp-2:ttl", "critical")
        self.assertEqual(check["Output"],
                         "TTL expired (last output before timeout follows): still here")

    def test_a_push_rearms_the_timer(self):
        self.register(ttl_service("rearm", ttl="800ms", Status="passing"))
        last_push = time.monotonic()
        for _ in range(3):   # push every 0.4 s (half the TTL), past the first deadline
            wait_for(lambda: time.monotonic() - last_push >= 0.4)
            self.sim.put("/v1/agent/check/pass/rearm:ttl")
            last_push = time.monotonic()
        status = self.sim.check("rearm:ttl")["Status"]
        if time.monotonic() - last_push < 0.6:   # only meaningful if we were not descheduled
            self.assertEqual(status, "passing")
        self.assertIsNotNone(self.sim.wait_check("rearm:ttl", "critical"))

    def test_output_truncation(self):
        self.register(ttl_service("trunc", OutputMaxSize=10))
        self.sim.put("/v1/agent/check/pass/trunc:ttl?note=" + "x" * 25)
        self.assertEqual(self.sim.check("trunc:ttl")["Output"],
                         "x" * 10 + " ... (captured 10 of 25 bytes)")
        self.register(ttl_service("trunc-default"))
        self.sim.put("/v1/agent/check/update/trunc-default:ttl",
                     {"Status": "passing", "Output": "y" * 5000})
        self.assertEqual(self.sim.check("trunc-default:ttl")["Output"],
                         "y" * 4096 + " ... (captured 4096 of 5000 bytes)")

    def test_unknown_check_is_404(self):
        for verb in ("pass", "warn", "fail"):
            self.assertEqual(self.sim.put(f"/v1/agent/check/{verb}/nope")[::2],
                             (404, 'Unknown check ID "nope". Ensure that the check ID is '
                                   'passed, not the check name.'))
        self.assertEqual(self.sim.put("/v1/agent/check/update/nope", {"Status": "passing"})[0],
                         404)
        self.assertEqual(self.sim.put("/v1/agent/check/deregister/nope")[0], 404)

    def test_ids_in_paths_are_percent_decoded(self):
        self.register(ttl_service("enc", CheckID="enc:a/b c"))
        path = "/v1/agent/check/pass/" + urllib.parse.quote("enc:a/b c", safe="")
        self.assertEqual(self.sim.put(path)[0], 200)
        self.assertEqual(self.sim.check("enc:a/b c")["Status"], "passing")
        logged = [e for e in self.sim.log() if e["path"] == path]
        self.assertEqual(len(logged), 1)


class TestMaintenanceAndReads(SharedSimTest):
    def test_maintenance(self):
        self.register(ttl_service("mnt"))
        base = "/v1/agent/service/maintenance/mnt"
        self.assertEqual(self.sim.put(base)[::2], (400, "Missing value for enable"))
        self.assertEqual(self.sim.put(base + "?enable=maybe")[::2],
                         (400, 'Invalid value for enable: "maybe"'))
        self.assertEqual(self.sim.put("/v1/agent/service/maintenance/ghost?enable=true")[0], 404)
        self.assertEqual(self.sim.put(base + "?enable=T")[::2], (200, ""))
        check = self.sim.check("_service_maintenance:mnt")
        self.assertEqual((check["Name"], check["Status"], check["Type"]),
                         ("Service Maintenance Mode", "critical", "maintenance"))
        self.assertTrue(check["Notes"].startswith("Maintenance mode is enabled for this service"))
        self.assertEqual(self.sim.put("/v1/agent/check/pass/_service_maintenance:mnt")[::2],
                         (500, 'CheckID "_service_maintenance:mnt" does not have associated TTL'))
        status, _, word = self.sim.agent("GET", "/v1/agent/health/service/id/mnt?format=text")
        self.assertEqual((status, word), (503, "maintenance"))
        self.sim.put(base + "?enable=0")
        self.assertIsNone(self.sim.check("_service_maintenance:mnt"))
        self.sim.put(base + "?enable=true&reason=deploying")
        self.assertEqual(self.sim.check("_service_maintenance:mnt")["Notes"], "deploying")

    def test_aggregated_health(self):
        self.register(ttl_service("agg"))
        url = "/v1/agent/health/service/id/agg"
        for verb, code, word in (("pass", 200, "passing"), ("warn", 429, "warning"),
                                 ("fail", 503, "critical")):
            self.sim.put(f"/v1/agent/check/{verb}/agg:ttl")
            status, body = self.sim.get_json(url)
            self.assertEqual((status, body["AggregatedStatus"]), (code, word))
        status, body = self.sim.get_json("/v1/agent/health/service/id/nope")
        self.assertEqual((status, body["AggregatedStatus"], body["Service"]),
                         (404, "critical", None))

    def test_single_service_read(self):
        self.register(ttl_service("one"))
        status, body = self.sim.get_json("/v1/agent/service/one")
        self.assertEqual((status, body["ID"]), (200, "one"))
        self.assertIn("ContentHash", body)
        self.assertEqual(self.sim.agent("GET", "/v1/agent/service/none")[::2],
                         (404, "unknown service ID: none"))

    def test_health_and_catalog_reads(self):
        self.register(ttl_service("hc-1", name="hc"))
        self.register(ttl_service("hc-2", name="hc"))
        self.sim.put("/v1/agent/check/pass/hc-1:ttl")
        status, entries = self.sim.get_json("/v1/health/service/hc")
        self.assertEqual((status, len(entries)), (200, 2))
        self.assertEqual(entries[0]["Node"]["Node"], "sim-node")
        self.assertIn("serfHealth", [c["CheckID"] for c in entries[0]["Checks"]])
        _, passing = self.sim.get_json("/v1/health/service/hc?passing")
        self.assertEqual([e["Service"]["ID"] for e in passing], ["hc-1"])
        _, checks = self.sim.get_json("/v1/health/checks/hc")
        self.assertEqual(sorted(c["CheckID"] for c in checks), ["hc-1:ttl", "hc-2:ttl"])
        _, catalog = self.sim.get_json("/v1/catalog/service/hc")
        self.assertEqual([(e["ServiceID"], e["Address"]) for e in catalog],
                         [("hc-1", "127.0.0.1"), ("hc-2", "127.0.0.1")])

    def test_agent_self(self):
        status, body = self.sim.get_json("/v1/agent/self")
        self.assertEqual((status, body["Config"]["NodeName"], body["Config"]["Datacenter"]),
                         (200, "sim-node", "dc1"))
        self.assertEqual(body["Config"]["Version"], "1.17.0-sim")


class TestControlApi(SharedSimTest):
    def test_request_log(self):
        before = time.monotonic()
        self.sim.put("/v1/agent/check/pass/log%3Ax?note=hi", headers={"X-Consul-Token": "abc"})
        self.sim.put("/v1/agent/service/register", {"Name": "logged", "Check": {"TTL": "9s"}})
        after = time.monotonic()
        first, second = self.sim.log()[-2:]
        self.assertEqual((first["method"], first["path"], first["query"]),
                         ("PUT", "/v1/agent/check/pass/log%3Ax", "note=hi"))
        self.assertEqual(first["headers"]["x-consul-token"], "abc")
        self.assertEqual((first["status"], first["response"][:18]), (404, "Unknown check ID \""))
        self.assertEqual((second["status"], json.loads(second["body"])["Name"]), (200, "logged"))
        self.assertEqual(second["seq"], first["seq"] + 1)
        self.assertTrue(before <= first["t"] <= second["t"] <= after)
        self.assertEqual(self.sim.log(since=first["seq"]), [second])

    def test_clearing_the_log_keeps_counting(self):
        self.sim.agent("GET", "/v1/agent/services")
        last = self.sim.log()[-1]["seq"]
        self.assertEqual(self.sim.control("DELETE", "/log")[0], 200)
        self.assertEqual(self.sim.log(), [])
        self.sim.agent("GET", "/v1/agent/checks")
        self.assertEqual([e["seq"] for e in self.sim.log()], [last + 1])

    def test_status_of_a_plain_agent(self):
        self.assertFalse(self.sim.tls)
        status = self.sim.control("GET", "/status")[1]
        self.assertEqual((status["listening"], status["tls"], status["tls_client_auth"],
                          status["tls_failures"]), (True, False, False, {}))

    def test_state_and_errors(self):
        self.register(ttl_service("st"))
        state = self.sim.state()
        self.assertEqual(state["services"]["st"]["Service"], "st")
        self.assertEqual(state["checks"]["st:ttl"]["ServiceID"], "st")
        self.assertEqual(self.sim.control("GET", "/nope")[0], 404)
        self.assertEqual(self.sim.control("PUT", "/fault", {"mode": "sideways"})[0], 400)


class TestDeregisterCriticalServiceAfter(SharedSimTest):
    args = ("--dcsa-min", "1s", "--reap-interval", "200ms")

    def test_reaped_after_minimum(self):
        self.register(ttl_service("reap", ttl="200ms", DeregisterCriticalServiceAfter="10ms"))
        self.register(ttl_service("keep", ttl="200ms"))
        self.assertIsNotNone(self.sim.wait_check("reap:ttl", "critical"))
        critical_at = time.monotonic()
        self.assertTrue(wait_for(lambda: "reap" not in self.sim.state()["services"]))
        gone_at = time.monotonic()
        # Raised to the 1 s minimum; the reaper runs every 200 ms.
        self.assertGreater(gone_at - critical_at, 0.8)
        state = self.sim.state()
        self.assertNotIn("reap:ttl", state["checks"])
        self.assertIn("keep", state["services"])
        self.assertEqual(self.sim.put("/v1/agent/check/pass/reap:ttl")[0], 404)

    def test_a_fail_push_starts_the_critical_clock(self):
        self.register(ttl_service("alive", ttl="5s", DeregisterCriticalServiceAfter="1s"))
        self.sim.put("/v1/agent/check/pass/alive:ttl")
        self.sim.put("/v1/agent/check/fail/alive:ttl")
        self.assertTrue(wait_for(lambda: "alive" not in self.sim.state()["services"]))


class TestAcl(SharedSimTest):
    args = ("--acl-token", "secret", "--acl-token", "other")

    def test_policy_header_is_deny(self):
        _, headers, _ = self.sim.agent("GET", "/v1/agent/services")
        self.assertEqual(headers["X-Consul-Default-ACL-Policy"], "deny")

    def test_token_sources(self):
        body = json.dumps(ttl_service("acl-ok"))
        for query, headers in (("?token=secret", {}), ("", {"X-Consul-Token": "other"}),
                               ("", {"Authorization": "Bearer secret"})):
            status, _, _ = self.sim.agent("PUT", "/v1/agent/service/register" + query, body,
                                          headers)
            self.assertEqual(status, 200, (query, headers))

    def test_anonymous_and_unknown_tokens(self):
        body = json.dumps(ttl_service("acl-svc", name="acl-name"))
        self.assertEqual(self.sim.agent("PUT", "/v1/agent/service/register", body)[::2],
                         (403, "Permission denied: anonymous token lacks permission "
                               "'service:write' on \"acl-name\""))
        self.assertEqual(self.sim.agent("PUT", "/v1/agent/service/register", body,
                                        {"X-Consul-Token": "wrong"})[::2], (403, "ACL not found"))
        self.sim.agent("PUT", "/v1/agent/service/register", body, {"X-Consul-Token": "secret"})
        self.assertEqual(self.sim.put("/v1/agent/check/pass/acl-svc:ttl")[::2],
                         (403, "Permission denied: anonymous token lacks permission "
                               "'service:write' on \"acl-name\""))
        self.assertEqual(self.sim.get_json("/v1/agent/services"), (200, {}))
        self.assertEqual(self.sim.get_json("/v1/agent/checks"), (200, {}))
        status, services = self.sim.get_json("/v1/agent/services",
                                             headers={"X-Consul-Token": "secret"})
        self.assertIn("acl-svc", services)
        self.assertEqual(self.sim.agent("GET", "/v1/agent/self")[::2],
                         (403, "Permission denied: anonymous token lacks permission "
                               "'agent:read' on \"sim-node\""))

    def test_acl_can_be_switched_off(self):
        self.assertEqual(self.sim.control("PUT", "/acl", {"tokens": []})[0], 200)
        try:
            _, headers, _ = self.sim.agent("GET", "/v1/agent/self")
            self.assertEqual(headers["X-Consul-Default-ACL-Policy"], "allow")
            self.assertEqual(self.sim.put("/v1/agent/service/register",
                                          ttl_service("acl-off"))[0], 200)
        finally:
            self.sim.control("PUT", "/acl", {"tokens": ["secret", "other"]})


class TestFaults(SharedSimTest):
    def tearDown(self):
        self.sim.control("PUT", "/fault", {"mode": "none"})

    def test_error_answers_without_touching_state(self):
        self.sim.control("PUT", "/fault", {"mode": "error", "status": 503, "body": "busy",
                                           "count": 1})
        self.assertEqual(self.sim.put("/v1/agent/service/register",
                                      ttl_service("err"))[::2], (503, "busy"))
        self.assertNotIn("err", self.sim.state()["services"])
        self.assertEqual(self.sim.put("/v1/agent/service/register", ttl_service("err"))[0], 200)

    def test_path_prefix_limits_the_fault(self):
        self.sim.control("PUT", "/fault", {"mode": "error", "status": 500,
                                           "path_prefix": "/v1/agent/check/"})
        self.assertEqual(self.sim.put("/v1/agent/service/register", ttl_service("pre"))[0], 200)
        self.assertEqual(self.sim.put("/v1/agent/check/pass/pre:ttl")[0], 500)

    def test_hang_holds_the_request_until_cleared(self):
        self.sim.control("PUT", "/fault", {"mode": "hang"})
        with self.assertRaises(socket.timeout):
            self.sim.agent("GET", "/v1/agent/services", timeout=0.3)
        # The control port is not blocked, and the hung request is logged unanswered.
        entry = self.sim.log()[-1]
        self.assertEqual((entry["path"], entry["status"], entry["fault"]),
                         ("/v1/agent/services", 0, "hang"))
        connection = socket.create_connection(("127.0.0.1", self.sim.agent_port), timeout=5)
        connection.sendall(b"GET /v1/agent/checks HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(lambda: self.sim.log()[-1]["path"] == "/v1/agent/checks")
        self.sim.control("PUT", "/fault", {"mode": "none"})
        self.assertEqual(connection.recv(100), b"", "released connection is closed unanswered")
        connection.close()
        self.assertEqual(self.sim.agent("GET", "/v1/agent/services")[0], 200)

    def test_delay(self):
        self.sim.control("PUT", "/fault", {"mode": "delay", "delay_ms": 300})
        started = time.monotonic()
        self.assertEqual(self.sim.agent("GET", "/v1/agent/services")[0], 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_garbage(self):
        self.sim.control("PUT", "/fault", {"mode": "garbage", "count": 1})
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            self.sim.agent("GET", "/v1/agent/services")
        self.assertEqual(self.sim.agent("GET", "/v1/agent/services")[0], 200)

    def test_reset(self):
        self.sim.control("PUT", "/fault", {"mode": "reset", "count": 1})
        connection = socket.create_connection(("127.0.0.1", self.sim.agent_port), timeout=5)
        connection.sendall(b"GET /v1/agent/services HTTP/1.1\r\nHost: x\r\n\r\n")
        with self.assertRaises(ConnectionResetError):
            while connection.recv(100):
                pass
        connection.close()
        self.assertEqual(self.sim.agent("GET", "/v1/agent/services")[0], 200)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class TestStopStart(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.unix_path = os.path.join(self.tmp.name, "agent.sock")
        self.sim = Sim("--unix", self.unix_path)

    def tearDown(self):
        self.sim.stop()
        self.tmp.cleanup()

    def unix_get(self, path):
        connection = UnixHTTPConnection(self.unix_path)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    def test_stop_start_restart_forget_state(self):
        self.assertEqual(self.sim.put("/v1/agent/service/register", ttl_service("s1"))[0], 200)
        self.assertIn("s1", json.loads(self.unix_get("/v1/agent/services")[1]))
        idle = http.client.HTTPConnection("127.0.0.1", self.sim.agent_port, timeout=5)
        idle.request("GET", "/v1/agent/services")
        idle.getresponse().read()
        self.assertEqual(self.sim.control("POST", "/stop")[0], 200)
        with self.assertRaises(ConnectionRefusedError):
            self.sim.agent("GET", "/v1/agent/services")
        self.assertFalse(os.path.exists(self.unix_path))
        idle.request("GET", "/v1/agent/services")
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            idle.getresponse()
        idle.close()
        self.assertEqual(self.sim.control("POST", "/start")[1]["agent_port"], self.sim.agent_port)
        self.assertEqual(self.sim.get_json("/v1/agent/services"), (200, {}))
        self.assertEqual(self.unix_get("/v1/agent/services")[0], 200)
        self.sim.put("/v1/agent/service/register", ttl_service("s2"))
        self.assertEqual(self.sim.control("POST", "/restart")[0], 200)
        self.assertEqual(self.sim.state()["services"], {})
        self.assertEqual(self.sim.put("/v1/agent/check/pass/s2:ttl")[0], 404)

    def test_stop_releases_hung_requests(self):
        self.sim.control("PUT", "/fault", {"mode": "hang"})
        connection = socket.create_connection(("127.0.0.1", self.sim.agent_port), timeout=5)
        connection.sendall(b"GET /v1/agent/checks HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(wait_for(lambda: self.sim.log()))
        self.sim.control("POST", "/stop")
        self.assertEqual(connection.recv(100), b"")
        connection.close()


# ---------------------------------------------------------------------------
# HTTPS agent port
# ---------------------------------------------------------------------------

PKI_FILES = {"ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "client.pem",
             "client-key.pem", "other-ca.pem"}
PLAINTEXT_400 = "Client sent an HTTP request to an HTTPS server.\n"


def make_certs(directory, env=None):
    """Run make-certs.sh; (exit status, stdout, stderr)."""
    result = subprocess.run(["sh", MAKE_CERTS, directory], capture_output=True, text=True,
                            timeout=60, env=env, stdin=subprocess.DEVNULL)
    return result.returncode, result.stdout, result.stderr


def https_request(port, method, path, context, host="127.0.0.1", body=None, headers=None,
                  timeout=5):
    """One request over TLS on a fresh connection: (status, headers, body text)."""
    connection = http.client.HTTPSConnection(host, port, context=context, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        connection.close()


class TestMakeCerts(unittest.TestCase):
    def test_writes_exactly_the_promised_files_quietly(self):
        with tempfile.TemporaryDirectory() as tmp:
            pki = os.path.join(tmp, "new", "pki")   # created, parents included
            self.assertEqual(make_certs(pki), (0, "", ""))
            self.assertEqual(set(os.listdir(pki)), PKI_FILES)
            self.assertEqual(make_certs(pki), (0, "", ""), "running again replaces")
            self.assertEqual(set(os.listdir(pki)), PKI_FILES)

    def test_openssl_failure_is_reported_and_leaves_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            fake = os.path.join(tmp, "bin")
            os.mkdir(fake)
            with open(os.path.join(fake, "openssl"), "w") as handle:
                handle.write("#!/bin/sh\necho 'fake openssl: no entropy today' >&2\nexit 1\n")
            os.chmod(os.path.join(fake, "openssl"), 0o755)
            env = dict(os.environ, PATH=fake + os.pathsep + os.environ.get("PATH", ""))
            status, out, err = make_certs(os.path.join(tmp, "pki"), env)
            self.assertNotEqual(status, 0)
            self.assertEqual(out, "")
            self.assertIn("fake openssl: no entropy today", err)
            self.assertEqual(os.listdir(os.path.join(tmp, "pki")), [])

    def test_usage(self):
        result = subprocess.run(["sh", MAKE_CERTS], capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 2)
        self.assertIn("usage", result.stderr)


class TlsSimTest(unittest.TestCase):
    """A simulator serving HTTPS; make-certs.sh runs once per class into a tempdir."""
    client_ca = None   # "ca" or "other-ca": the --tls-client-ca file

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pki = cls.tmp.name
        status, _, err = make_certs(cls.pki)
        if status != 0:
            cls.tmp.cleanup()
            raise RuntimeError("make-certs.sh failed: " + err)
        cls.unix_path = os.path.join(cls.pki, "agent.sock")
        try:
            cls.sim = Sim(*cls.sim_args(cls.client_ca))
        except Exception:
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        cls.tmp.cleanup()

    @classmethod
    def pem(cls, name):
        return os.path.join(cls.pki, name + ".pem")

    @classmethod
    def sim_args(cls, client_ca):
        args = ["--tls-cert", cls.pem("server"), "--tls-key", cls.pem("server-key"),
                "--unix", cls.unix_path]
        return args + (["--tls-client-ca", cls.pem(client_ca)] if client_ca else [])

    def context(self, cafile="ca", cert=None, max_version=None):
        """A verifying client context: hostname checked, strict X.509 rules."""
        context = ssl.create_default_context(cafile=self.pem(cafile))
        context.verify_flags |= ssl.VERIFY_X509_STRICT
        if cert:
            context.load_cert_chain(self.pem(cert), self.pem(cert + "-key"))
        if max_version:
            context.maximum_version = max_version
        return context

    def https(self, method, path, context=None, **kwargs):
        return https_request(self.sim.agent_port, method, path, context or self.context(),
                             **kwargs)

    def status(self):
        return self.sim.control("GET", "/status")[1]

    def tls_failures(self, reason, sim=None):
        return (sim or self.sim).control("GET", "/status")[1]["tls_failures"].get(reason, 0)

    def wait_tls_failure(self, before, reason, sim=None):
        """The simulator counts a failed connection in the connection's own thread, maybe
        after the client has given up: wait for it."""
        self.assertTrue(wait_for(lambda: self.tls_failures(reason, sim) > before),
                        f"no TLS failure {reason!r} counted; have {self.status()}")

    def restart(self):
        self.assertEqual(self.sim.control("POST", "/restart")[1]["agent_port"],
                         self.sim.agent_port)


class TestHttps(TlsSimTest):
    def tearDown(self):
        self.sim.control("PUT", "/fault", {"mode": "none"})
        self.sim.control("POST", "/start")   # in case a test stopped it and failed

    def test_agent_self_verified_against_the_ca(self):
        status, headers, text = self.https("GET", "/v1/agent/self")
        body = json.loads(text)
        self.assertEqual((status, body["Config"]["NodeName"]), (200, "sim-node"))
        self.assertEqual(headers["X-Consul-Default-ACL-Policy"], "allow")
        entry = self.sim.log()[-1]
        self.assertEqual((entry["method"], entry["path"], entry["status"]),
                         ("GET", "/v1/agent/self", 200))

    def test_certificate_names_and_alpn(self):
        # The server certificate is valid for the names a client may be given, and
        # the simulator settles ALPN on HTTP/1.1 even when h2 is offered first.
        for name in ("localhost", "server.dc1.consul", "127.0.0.1"):
            context = self.context()
            context.set_alpn_protocols(["h2", "http/1.1"])
            raw = socket.create_connection(("127.0.0.1", self.sim.agent_port), timeout=5)
            with context.wrap_socket(raw, server_hostname=name) as tls:
                self.assertEqual(tls.selected_alpn_protocol(), "http/1.1", name)
        before = self.tls_failures("SSLV3_ALERT_BAD_CERTIFICATE")
        raw = socket.create_connection(("127.0.0.1", self.sim.agent_port), timeout=5)
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.context().wrap_socket(raw, server_hostname="example.com")
        raw.close()
        self.wait_tls_failure(before, "SSLV3_ALERT_BAD_CERTIFICATE")

    def test_ready_line_and_status(self):
        self.assertTrue(self.sim.tls)
        status = self.status()
        self.assertEqual((status["tls"], status["tls_client_auth"]), (True, False))

    def test_plain_http_client_gets_gos_400(self):
        reason = "client sent an HTTP request to an HTTPS server"
        before = self.tls_failures(reason)
        log_before = self.sim.log()
        for method in ("GET", "PUT", "POST", "HEAD", "OPTIONS"):
            status, _, text = request(self.sim.agent_port, method, "/v1/agent/self")
            self.assertEqual((status, text), (400, "" if method == "HEAD" else PLAINTEXT_400))
        self.assertEqual(self.sim.log(), log_before, "never reached the HTTP API")
        self.wait_tls_failure(before + 4, reason)
        # Go answers only those five starts (tlsRecordHeaderLooksLikeHTTP); anything
        # else is an ordinary failed handshake.
        connection = socket.create_connection(("127.0.0.1", self.sim.agent_port), timeout=5)
        connection.sendall(b"DELETE /v1/agent/service/deregister/x HTTP/1.1\r\n\r\n")
        try:
            reply = connection.recv(100)
        except ConnectionResetError:
            reply = b""
        connection.close()
        self.assertFalse(reply.startswith(b"HTTP/"), reply)

    def test_wrong_ca_is_refused(self):
        before = self.tls_failures("TLSV1_ALERT_UNKNOWN_CA")
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.https("GET", "/v1/agent/self", self.context(cafile="other-ca"))
        self.wait_tls_failure(before, "TLSV1_ALERT_UNKNOWN_CA")

    def test_handshake_timeout_bounds_the_first_request(self):
        sim = Sim(*self.sim_args(None), "--https-handshake-timeout", "300ms")
        try:
            started = time.monotonic()
            silent = socket.create_connection(("127.0.0.1", sim.agent_port), timeout=5)
            self.assertEqual(silent.recv(100), b"", "never handshook: closed")
            silent.close()
            self.assertGreaterEqual(time.monotonic() - started, 0.3)
            self.wait_tls_failure(0, "handshake timeout", sim)
            # Handshaken but idle: closed too (with close_notify), and not a TLS failure.
            raw = socket.create_connection(("127.0.0.1", sim.agent_port), timeout=5)
            with self.context().wrap_socket(raw, server_hostname="localhost",
                                            suppress_ragged_eofs=False) as tls:
                self.assertEqual(tls.recv(100), b"")
            # Once a request has started the deadline is gone: an idle keep-alive
            # connection outlives it.
            connection = http.client.HTTPSConnection("127.0.0.1", sim.agent_port,
                                                     context=self.context(), timeout=5)
            try:
                for _ in range(2):
                    connection.request("GET", "/v1/agent/services")
                    self.assertEqual(connection.getresponse().read(), b"{}\n")
                    paused = time.monotonic()
                    wait_for(lambda: time.monotonic() - paused >= 0.5)  # past the deadline
            finally:
                connection.close()
            self.assertEqual(sim.control("GET", "/status")[1]["tls_failures"],
                             {"handshake timeout": 1})
        finally:
            sim.stop()

    def test_silent_client_does_not_block_others(self):
        silent = socket.create_connection(("127.0.0.1", self.sim.agent_port), timeout=5)
        try:
            started = time.monotonic()
            self.assertEqual(self.https("GET", "/v1/agent/services", timeout=2)[0], 200)
            self.assertLess(time.monotonic() - started, 2)
        finally:
            silent.close()

    def test_unix_socket_stays_plain_http(self):
        connection = UnixHTTPConnection(self.unix_path)
        try:
            connection.request("GET", "/v1/agent/self")
            self.assertEqual(connection.getresponse().status, 200)
        finally:
            connection.close()

    def test_closing_sends_close_notify(self):
        # OpenSSL 3 clients call a close without close_notify an error
        # ("unexpected eof while reading"); a real agent (Go) always sends one.
        context = self.context()
        raw = socket.create_connection(("127.0.0.1", self.sim.agent_port), timeout=5)
        with context.wrap_socket(raw, server_hostname="localhost",
                                 suppress_ragged_eofs=False) as tls:
            tls.sendall(b"GET /v1/agent/services HTTP/1.1\r\nHost: x\r\n"
                        b"Connection: close\r\n\r\n")
            data = b""
            while True:
                chunk = tls.recv(4096)   # SSLEOFError here if close_notify is missing
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:40])

    def test_faults_over_tls(self):
        self.sim.control("PUT", "/fault", {"mode": "garbage", "count": 1})
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            self.https("GET", "/v1/agent/services")
        self.assertEqual(self.https("GET", "/v1/agent/services")[0], 200)

        self.sim.control("PUT", "/fault", {"mode": "reset", "count": 1})
        raw = socket.create_connection(("127.0.0.1", self.sim.agent_port), timeout=5)
        with self.context().wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /v1/agent/services HTTP/1.1\r\nHost: x\r\n\r\n")
            # Read the TCP stream under TLS: Python's ssl reports an RST met inside
            # SSL_read as SSLEOFError (or b"" when ragged EOFs are suppressed).
            with self.assertRaises(ConnectionResetError):
                while socket.socket.recv(tls, 4096):
                    pass
        self.assertEqual(self.https("GET", "/v1/agent/services")[0], 200)

        self.sim.control("PUT", "/fault", {"mode": "hang"})
        with self.assertRaises(socket.timeout):
            self.https("GET", "/v1/agent/services", timeout=0.3)
        raw = socket.create_connection(("127.0.0.1", self.sim.agent_port), timeout=5)
        with self.context().wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /v1/agent/checks HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(wait_for(lambda: self.sim.log()[-1]["path"] == "/v1/agent/checks"))
            self.sim.control("PUT", "/fault", {"mode": "none"})
            self.assertEqual(tls.recv(100), b"", "released connection is closed unanswered")
        self.assertEqual(self.https("GET", "/v1/agent/services")[0], 200)

    def test_tls_survives_stop_start_and_restart(self):
        self.assertEqual(self.https("PUT", "/v1/agent/service/register",
                                    body=json.dumps(ttl_service("tls-r")))[0], 200)
        idle = http.client.HTTPSConnection("127.0.0.1", self.sim.agent_port,
                                           context=self.context(), timeout=5)
        idle.request("GET", "/v1/agent/services")
        idle.getresponse().read()
        self.restart()
        idle.request("GET", "/v1/agent/services")   # the restart closed it
        with self.assertRaises((http.client.HTTPException, ConnectionError, ssl.SSLError)):
            idle.getresponse()
        idle.close()
        status, _, text = self.https("GET", "/v1/agent/services")
        self.assertEqual((status, json.loads(text)), (200, {}))
        self.assertEqual(request(self.sim.agent_port, "GET", "/v1/agent/self")[::2],
                         (400, PLAINTEXT_400))
        self.assertEqual(self.sim.control("POST", "/stop")[0], 200)
        with self.assertRaises(ConnectionRefusedError):
            self.https("GET", "/v1/agent/self")
        self.assertEqual(self.sim.control("POST", "/start")[1]["agent_port"],
                         self.sim.agent_port)
        self.assertEqual(self.https("GET", "/v1/agent/self")[0], 200)
        self.assertTrue(self.status()["tls"])

    def encrypted_key(self):
        path = os.path.join(self.pki, "encrypted-key.pem")
        subprocess.run(["openssl", "pkey", "-in", self.pem("server-key"), "-aes256",
                        "-passout", "pass:secret", "-out", path], check=True,
                       capture_output=True, timeout=30)
        return path

    def test_bad_tls_options(self):
        cases = [(["--tls-cert", self.pem("server")], "--tls-cert and --tls-key go together"),
                 (["--tls-client-ca", self.pem("ca")], "--tls-client-ca needs"),
                 (["--tls-cert", self.pem("server"), "--tls-key", self.pem("client-key")],
                  "cannot load the TLS files"),
                 (["--tls-cert", self.pem("nope"), "--tls-key", self.pem("server-key")],
                  "cannot load the TLS files"),
                 (["--tls-cert", self.pem("server"), "--tls-key", self.encrypted_key()],
                  "the key is encrypted")]
        for args, message in cases:
            with self.subTest(args=args):
                result = subprocess.run([sys.executable, SIM, "--port", "0", *args],
                                        capture_output=True, text=True, timeout=10,
                                        stdin=subprocess.DEVNULL)
                self.assertEqual((result.returncode, result.stdout), (2, ""))
                self.assertIn(message, result.stderr)


class TestHttpsClientCert(TlsSimTest):
    client_ca = "ca"

    def test_status_says_client_auth(self):
        self.assertEqual((self.status()["tls"], self.status()["tls_client_auth"]), (True, True))

    def test_client_without_certificate_is_refused(self):
        # Under TLS 1.3 the client's handshake is over before the server has looked
        # at its (empty) certificate, so the refusal (alert "certificate required")
        # surfaces on the first read; under TLS 1.2 it fails the handshake itself.
        for max_version in (None, ssl.TLSVersion.TLSv1_2):
            with self.subTest(max_version=max_version):
                before = self.tls_failures("PEER_DID_NOT_RETURN_A_CERTIFICATE")
                log_before = self.sim.log()
                with self.assertRaises((ssl.SSLError, ConnectionError)):
                    self.https("GET", "/v1/agent/self", self.context(max_version=max_version))
                self.wait_tls_failure(before, "PEER_DID_NOT_RETURN_A_CERTIFICATE")
                self.assertEqual(self.sim.log(), log_before)

    def test_client_certificate_is_accepted(self):
        status, _, text = self.https("GET", "/v1/agent/self", self.context(cert="client"))
        self.assertEqual((status, json.loads(text)["Config"]["Datacenter"]), (200, "dc1"))

    def test_client_auth_survives_restart(self):
        self.restart()
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            self.https("GET", "/v1/agent/self")
        self.assertEqual(self.https("GET", "/v1/agent/self", self.context(cert="client"))[0],
                         200)

    def test_certificate_from_another_ca_is_refused(self):
        other = Sim(*self.sim_args("other-ca")[:4], "--tls-client-ca", self.pem("other-ca"))
        try:
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                https_request(other.agent_port, "GET", "/v1/agent/self",
                              self.context(cert="client"))
            # OpenSSL sends the client's CA along with its certificate (the chain is
            # built from the client's trust store), hence "self-signed ... in chain".
            self.wait_tls_failure(0, "CERTIFICATE_VERIFY_FAILED: self-signed certificate "
                                     "in certificate chain", other)
        finally:
            other.stop()


class TestProcessLifecycle(unittest.TestCase):
    def test_sigterm_exits_zero_and_ready_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            ready = os.path.join(tmp, "ready.json")
            sim = Sim("--ready-file", ready)
            with open(ready) as handle:
                self.assertEqual(json.load(handle)["agent_port"], sim.agent_port)
            sim.proc.send_signal(signal.SIGTERM)
            self.assertEqual(sim.proc.wait(5), 0)
            sim.stop()

    def test_quit_exits_zero(self):
        sim = Sim()
        self.assertEqual(sim.control("POST", "/quit")[0], 200)
        self.assertEqual(sim.proc.wait(5), 0)
        sim.stop()


if __name__ == "__main__":
    unittest.main(verbosity=1)
