#!/usr/bin/env python3
"""Self-test of the Consul agent simulator (stdlib unittest).

    python3 tests/sim/test_consul_sim.py

Every wait polls a condition against a deadline; nothing sleeps hoping for timing.
"""

import base64
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
import threading
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

    def test_agent_checks_filter(self):
        self.register(ttl_service("flt-a"))
        self.register(ttl_service("flt-b"))
        self.sim.put("/v1/agent/service/maintenance/flt-b?enable=true")
        query = "/v1/agent/checks?filter=" + urllib.parse.quote(
            'ServiceID == "flt-b" or ServiceID == "flt-none"')
        checks = self.sim.get_json(query)[1]
        self.assertEqual(sorted(checks), ["_service_maintenance:flt-b", "flt-b:ttl"])
        self.assertEqual(checks["flt-b:ttl"]["ServiceID"], "flt-b")
        for expression, expected in (
                ('ServiceID matches "^(?:flt-a|flt\\\\.none)$"', ["flt-a:ttl"]),
                ('CheckID == "flt-a:ttl"', ["flt-a:ttl"]),
                ('ServiceID matches "^flt-" and Type == maintenance',
                 ["_service_maintenance:flt-b"])):
            query = "/v1/agent/checks?filter=" + urllib.parse.quote(expression)
            self.assertEqual(sorted(self.sim.get_json(query)[1]), expected, expression)
        status, text = self.sim.get_json("/v1/agent/checks?filter=" +
                                         urllib.parse.quote("Nope == 1"))
        self.assertEqual((status, text), (500, "Failed to create boolean expression "
                                               'evaluator: Selector "Nope" is not valid'))
        self.sim.put("/v1/agent/service/maintenance/flt-b?enable=false")

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

    def test_clearing_the_log_through_a_sequence_number(self):
        self.sim.agent("GET", "/v1/agent/services")
        self.sim.agent("GET", "/v1/agent/checks")
        first, second = [e["seq"] for e in self.sim.log()[-2:]]
        self.assertEqual(self.sim.control("DELETE", f"/log?through={first}")[0], 200)
        self.assertEqual([e["seq"] for e in self.sim.log()], [second])
        self.assertEqual(self.sim.control("DELETE", "/log?through=x")[0], 400)

    def test_status_counts_accepted_connections(self):
        before = self.sim.control("GET", "/status")[1]["connections_accepted"]
        connection = http.client.HTTPConnection("127.0.0.1", self.sim.agent_port, timeout=5)
        try:
            for _ in range(3):   # keep-alive: three requests, one connection
                connection.request("GET", "/v1/agent/services")
                connection.getresponse().read()
        finally:
            connection.close()
        self.sim.agent("GET", "/v1/agent/checks")   # a fresh connection
        after = self.sim.control("GET", "/status")[1]["connections_accepted"]
        self.assertEqual(after - before, 2)

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


# ---------------------------------------------------------------------------
# KV, sessions, events, catalog/health views and blocking queries
# ---------------------------------------------------------------------------

def b64(text):
    return base64.b64encode(text.encode()).decode()


class BlockingGet(threading.Thread):
    """A GET on its own thread: .result is (status, headers, body), .elapsed seconds."""

    def __init__(self, sim, path, timeout=30):
        super().__init__(daemon=True)
        self.sim, self.path, self.timeout = sim, path, timeout
        self.result = self.error = None
        self.elapsed = None
        self.start()

    def run(self):
        started = time.monotonic()
        try:
            self.result = self.sim.agent("GET", self.path, timeout=self.timeout)
        except Exception as exc:   # noqa: BLE001 - reported by the test
            self.error = exc
        self.elapsed = time.monotonic() - started


def waiting_requests(sim, path_prefix):
    """How many logged requests under path_prefix are still unanswered."""
    return sum(1 for e in sim.log() if e["path"].startswith(path_prefix) and e["status"] == 0)


class KvSimTest(SharedSimTest):
    def kv_put(self, key, value="", query="", **kwargs):
        status, _, text = self.sim.put(f"/v1/kv/{key}{query}", value, **kwargs)
        return status, text

    def kv_get(self, key, query=""):
        status, headers, text = self.sim.agent("GET", f"/v1/kv/{key}{query}")
        return status, headers, (json.loads(text) if text.startswith("[") else text)

    def index_of(self, path):
        return int(self.sim.agent("GET", path)[1]["X-Consul-Index"])


class TestKv(KvSimTest):
    def test_missing_key_is_404_with_meta_headers(self):
        status, headers, text = self.kv_get("kv-missing/none")
        self.assertEqual((status, text), (404, ""))
        self.assertGreaterEqual(int(headers["X-Consul-Index"]), 1)
        self.assertEqual((headers["X-Consul-KnownLeader"], headers["X-Consul-LastContact"]),
                         ("true", "0"))

    def test_put_and_get(self):
        self.assertEqual(self.kv_put("kv-rt/a", "hello\x00", "?flags=42"), (200, "true\n"))
        status, headers, body = self.kv_get("kv-rt/a")
        self.assertEqual(status, 200)
        entry, = body
        self.assertEqual((entry["Key"], entry["Flags"], entry["LockIndex"]), ("kv-rt/a", 42, 0))
        self.assertEqual(base64.b64decode(entry["Value"]), b"hello\x00")
        self.assertNotIn("Session", entry)
        self.assertEqual(entry["CreateIndex"], entry["ModifyIndex"])
        self.assertEqual(int(headers["X-Consul-Index"]), entry["ModifyIndex"])
        status, headers, raw = self.sim.agent("GET", "/v1/kv/kv-rt/a?raw")
        self.assertEqual((status, raw), (200, "hello\x00"))
        self.assertEqual((headers["Content-Type"], headers["X-Content-Type-Options"],
                          headers["Content-Security-Policy"]),
                         ("text/plain", "nosniff", "sandbox"))
        self.kv_put("kv-rt/empty")
        self.assertIsNone(self.kv_get("kv-rt/empty")[2][0]["Value"])

    def test_identical_write_does_not_move_the_index(self):
        self.kv_put("kv-same/k", "v1")
        first = self.kv_get("kv-same/k")[2][0]
        self.kv_put("kv-same/k", "v1")
        self.assertEqual(self.kv_get("kv-same/k")[2][0], first)
        self.kv_put("kv-same/k", "v1", "?flags=1")
        second = self.kv_get("kv-same/k")[2][0]
        # The skipped write still took a Raft index: the next write is two further on.
        self.assertEqual(second["ModifyIndex"], first["ModifyIndex"] + 2)
        self.assertEqual(second["CreateIndex"], first["CreateIndex"])

    def test_recurse_keys_and_separator(self):
        for key in ("kv-tree/a", "kv-tree/b/c", "kv-tree/b/d", "kv-tree2"):
            self.kv_put(key, key)
        status, headers, body = self.kv_get("kv-tree/", "?recurse")
        self.assertEqual([e["Key"] for e in body], ["kv-tree/a", "kv-tree/b/c", "kv-tree/b/d"])
        self.assertEqual(int(headers["X-Consul-Index"]), max(e["ModifyIndex"] for e in body))
        # A plain string prefix: "kv-tree" also takes "kv-tree2"; ?recurse=false still recurses.
        self.assertEqual(len(self.kv_get("kv-tree", "?recurse=false")[2]), 4)
        self.assertEqual(self.kv_get("kv-tree/", "?keys")[2],
                         ["kv-tree/a", "kv-tree/b/c", "kv-tree/b/d"])
        self.assertEqual(self.kv_get("kv-tree/", "?keys&separator=/")[2],
                         ["kv-tree/a", "kv-tree/b/"])
        self.assertEqual(self.kv_get("kv-tree/", "?keys&seperator=/")[2],
                         ["kv-tree/a", "kv-tree/b/"])
        self.assertEqual(self.kv_get("kv-nothing/", "?keys")[:2:1][0], 404)
        self.assertEqual(self.kv_get("kv-nothing/", "?recurse")[0], 404)
        self.assertEqual(self.kv_get("", "?keys")[0], 200)

    def test_cas(self):
        self.assertEqual(self.kv_put("kv-cas/k", "a", "?cas=0"), (200, "true\n"))
        self.assertEqual(self.kv_put("kv-cas/k", "b", "?cas=0"), (200, "false\n"))
        index = self.kv_get("kv-cas/k")[2][0]["ModifyIndex"]
        self.assertEqual(self.kv_put("kv-cas/k", "b", f"?cas={index + 100}"), (200, "false\n"))
        self.assertEqual(self.kv_put("kv-cas/k", "b", f"?cas={index}"), (200, "true\n"))
        self.assertEqual(self.kv_put("kv-cas/none", "b", "?cas=5"), (200, "false\n"))
        index = self.kv_get("kv-cas/k")[2][0]["ModifyIndex"]
        status, _, text = self.sim.agent("DELETE", "/v1/kv/kv-cas/k?cas=0")
        self.assertEqual((status, text), (200, "false\n"))
        self.assertEqual(self.sim.agent("DELETE", f"/v1/kv/kv-cas/k?cas={index}")[2], "true\n")
        self.assertEqual(self.kv_get("kv-cas/k")[0], 404)
        # state/kvs.go kvsDeleteCASTxn: a CAS delete of a missing key answers true.
        self.assertEqual(self.sim.agent("DELETE", "/v1/kv/kv-cas/k?cas=3")[2], "true\n")

    def test_delete_and_tombstones(self):
        for key in ("kv-del/a", "kv-del/b", "kv-del/c/d"):
            self.kv_put(key, "x")
        before = self.index_of("/v1/kv/kv-del/?recurse")
        self.assertEqual(self.sim.agent("DELETE", "/v1/kv/kv-del/b")[::2], (200, "true\n"))
        after = self.index_of("/v1/kv/kv-del/?recurse")
        self.assertGreater(after, before, "a delete inside the prefix moves its index on")
        self.assertEqual(self.sim.agent("DELETE", "/v1/kv/kv-del/missing")[::2], (200, "true\n"))
        self.assertEqual(self.index_of("/v1/kv/kv-del/?recurse"), after)
        self.assertEqual(self.sim.agent("DELETE", "/v1/kv/kv-del/c?recurse")[::2], (200, "true\n"))
        self.assertEqual([e["Key"] for e in self.kv_get("kv-del/", "?recurse")[2]],
                         ["kv-del/a"])
        # Reaping the tombstones lets the prefix index go backwards.
        high = self.index_of("/v1/kv/kv-del/?recurse")
        self.assertEqual(self.sim.control("POST", "/reap-tombstones")[0], 200)
        low = self.index_of("/v1/kv/kv-del/?recurse")
        self.assertLess(low, high)
        self.assertEqual(low, self.kv_get("kv-del/a")[2][0]["ModifyIndex"])

    def test_request_errors(self):
        self.assertEqual(self.sim.agent("GET", "/v1/kv/")[::2], (400, "Missing key name"))
        self.assertEqual(self.sim.put("/v1/kv/", "x")[::2], (400, "Missing key name"))
        self.assertEqual(self.sim.agent("DELETE", "/v1/kv/")[::2], (400, "Missing key name"))
        self.assertEqual(self.sim.put("/v1/kv/kv-err?cas=1&release=abc", "x")[::2],
                         (400, "Conflicting flags: cas=1&release=abc\n"))
        self.assertEqual(self.sim.agent("DELETE", "/v1/kv/kv-err?recurse&cas=1")[::2],
                         (400, "Conflicting flags: cas=1&recurse=\n"))
        self.assertEqual(self.sim.put("/v1/kv/kv-err?flags=x", "x")[::2],
                         (500, 'strconv.ParseUint: parsing "x": invalid syntax'))
        self.assertEqual(self.sim.agent("GET", "/v1/kv/kv-err?index=1&wait=30")[::2],
                         (400, "Invalid wait time"))
        self.assertEqual(self.sim.agent("GET", "/v1/kv/kv-err?index=-1")[::2],
                         (400, "Invalid index"))
        self.assertEqual(self.sim.agent("GET", "/v1/kv/kv-err?stale&consistent")[::2],
                         (400, "Cannot specify ?stale with ?consistent, conflicting semantics."))
        self.assertEqual(self.sim.agent("GET", "/v1/kv/kv-err?dc=dc2")[::2],
                         (500, "No path to datacenter"))
        self.assertEqual(self.sim.put("/v1/kv/kv-err?dc=dc2", "x")[::2],
                         (500, "No path to datacenter"))
        status, headers, _ = self.sim.agent("GET", "/v1/kv/kv-err?dc=dc1&stale")
        self.assertEqual((status, headers["X-Consul-Effective-Consistency"]), (404, "stale"))
        self.assertEqual(self.sim.agent("POST", "/v1/kv/kv-err")[0], 405)

    def test_value_size_limit(self):
        limit = 512 * 1024
        self.assertEqual(self.kv_put("kv-big/ok", "x" * limit), (200, "true\n"))
        self.assertEqual(self.kv_put("kv-big/no", "x" * (limit + 1)),
                         (413, f"Request body({limit + 1} bytes) too large, max size: {limit} "
                               "bytes. See https://developer.hashicorp.com/docs/agent/config/"
                               "config-files#kv_max_value_size."))
        self.assertEqual(self.kv_get("kv-big/no")[0], 404)


class TestSessions(KvSimTest):
    args = ("--session-ttl-min", "200ms")

    def create(self, body=None):
        status, _, text = self.sim.put("/v1/session/create", body)
        self.assertEqual(status, 200, text)
        return json.loads(text)["ID"]

    def info(self, session_id):
        return self.sim.get_json(f"/v1/session/info/{session_id}")[1]

    def test_create_defaults_and_reads(self):
        session_id = self.create()
        session, = self.info(session_id)
        self.assertEqual((session["Node"], session["LockDelay"], session["Behavior"],
                          session["TTL"], session["NodeChecks"], session["ServiceChecks"]),
                         ("sim-node", 15 * 10 ** 9, "release", "", ["serfHealth"], None))
        self.assertEqual(session["CreateIndex"], session["ModifyIndex"])
        self.assertIn(session_id, [s["ID"] for s in self.sim.get_json("/v1/session/list")[1]])
        self.assertIn(session_id, [s["ID"] for s in
                                   self.sim.get_json("/v1/session/node/sim-node")[1]])
        self.assertEqual(self.sim.get_json("/v1/session/node/other")[1], [])
        named = self.create({"Name": "n", "LockDelay": 5, "Behavior": "delete", "Checks": []})
        session, = self.info(named)
        self.assertEqual((session["Name"], session["LockDelay"], session["Behavior"],
                          session["NodeChecks"]), ("n", 5 * 10 ** 9, "delete", []))
        self.assertEqual(self.info(self.create({"lockdelay": "250ms"}))[0]["LockDelay"],
                         250 * 10 ** 6)

    def test_create_errors(self):
        for body, status, text in (
                ({"TTL": "1ms"}, 500,
                 "Invalid Session TTL '1000000', must be between [200ms=24h0m0s]"),
                ({"TTL": "soon"}, 500,
                 "Session TTL 'soon' invalid: time: invalid duration \"soon\""),
                ({"Behavior": "keep"}, 500, "Invalid Behavior setting 'keep'"),
                ({"Node": "elsewhere"}, 500, "Missing node registration"),
                ({"Checks": ["nope"]}, 500, "Missing check 'nope' registration")):
            self.assertEqual(self.sim.put("/v1/session/create", body)[::2], (status, text), body)

    def test_renew_destroy_and_unknown_sessions(self):
        session_id = self.create({"TTL": "30s"})
        status, _, text = self.sim.put(f"/v1/session/renew/{session_id}")
        self.assertEqual((status, json.loads(text)[0]["ID"]), (200, session_id))
        self.assertEqual(self.sim.put("/v1/session/renew/nope")[::2],
                         (404, "Session id 'nope' not found"))
        self.assertEqual(self.sim.put(f"/v1/session/destroy/{session_id}")[::2], (200, "true\n"))
        self.assertEqual(self.sim.put(f"/v1/session/destroy/{session_id}")[::2], (200, "true\n"))
        self.assertEqual(self.info(session_id), [])
        self.assertEqual(self.sim.put("/v1/session/destroy/")[::2], (400, "Missing session"))
        self.assertEqual(self.sim.agent("GET", "/v1/session/create")[0], 405)

    def test_acquire_release_and_lock_index(self):
        one, two = self.create({"LockDelay": "0s"}), self.create({"LockDelay": "0s"})
        self.assertEqual(self.kv_put("lock/a", "v", f"?acquire={one}"), (200, "true\n"))
        entry = self.kv_get("lock/a")[2][0]
        self.assertEqual((entry["Session"], entry["LockIndex"]), (one, 1))
        self.assertEqual(self.kv_put("lock/a", "w", f"?acquire={two}"), (200, "false\n"))
        self.assertEqual(self.kv_put("lock/a", "v2", f"?acquire={one}"), (200, "true\n"))
        self.assertEqual(self.kv_get("lock/a")[2][0]["LockIndex"], 1)
        self.assertEqual(self.kv_put("lock/a", "", f"?release={two}"), (200, "false\n"))
        self.assertEqual(self.kv_put("lock/a", "v3", f"?release={one}"), (200, "true\n"))
        entry = self.kv_get("lock/a")[2][0]
        self.assertNotIn("Session", entry)
        self.assertEqual((entry["LockIndex"], base64.b64decode(entry["Value"])), (1, b"v3"))
        # An explicit release sets no lock-delay: the other session takes it at once.
        self.assertEqual(self.kv_put("lock/a", "", f"?acquire={two}"), (200, "true\n"))
        self.assertEqual(self.kv_get("lock/a")[2][0]["LockIndex"], 2)
        # state/kvs.go kvsSetTxn: a plain PUT keeps the holder but not the LockIndex.
        self.assertEqual(self.kv_put("lock/a", "plain"), (200, "true\n"))
        entry = self.kv_get("lock/a")[2][0]
        self.assertEqual((entry["Session"], entry["LockIndex"]), (two, 0))
        self.assertEqual(self.kv_put("lock/a", "", "?acquire=nope"),
                         (500, 'invalid session "nope"'))
        self.assertEqual(self.kv_put("lock/a", "", "?acquire="), (500, "missing session"))
        self.assertEqual(self.kv_put("lock/none", "", f"?release={one}"), (200, "false\n"))

    def test_invalidation_releases_with_lock_delay(self):
        holder = self.create({"LockDelay": "600ms"})
        waiter = self.create()
        self.kv_put("lock/delay", "v", f"?acquire={holder}")
        self.sim.put(f"/v1/session/destroy/{holder}")
        entry = self.kv_get("lock/delay")[2][0]
        self.assertNotIn("Session", entry)
        self.assertEqual(self.kv_put("lock/delay", "", f"?acquire={waiter}"), (200, "false\n"))
        # Lock-delay refuses before any Raft write: nothing moved.
        self.assertEqual(self.kv_get("lock/delay")[2][0], entry)
        self.assertTrue(wait_for(lambda: self.kv_put("lock/delay", "", f"?acquire={waiter}")
                                 == (200, "true\n"), timeout=3))

    def test_delete_behavior(self):
        session_id = self.create({"Behavior": "delete", "LockDelay": "0s"})
        self.kv_put("lock/eph", "v", f"?acquire={session_id}")
        self.sim.put(f"/v1/session/destroy/{session_id}")
        self.assertEqual(self.kv_get("lock/eph")[0], 404)

    def test_ttl_expiry_after_twice_the_ttl(self):
        session_id = self.create({"TTL": "300ms", "LockDelay": "0s"})
        self.kv_put("lock/ttl", "v", f"?acquire={session_id}")
        started = time.monotonic()
        self.assertTrue(wait_for(lambda: self.info(session_id) == [], timeout=3))
        # agent/consul/session_ttl.go: the timer runs TTL * 2.
        self.assertGreaterEqual(time.monotonic() - started, 0.5)
        self.assertNotIn("Session", self.kv_get("lock/ttl")[2][0])

    def test_renew_keeps_a_ttl_session(self):
        session_id = self.create({"TTL": "300ms"})
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            self.assertEqual(self.sim.put(f"/v1/session/renew/{session_id}")[0], 200)
            time.sleep(0.2)   # renew interval, well inside TTL * 2
        self.assertEqual(len(self.info(session_id)), 1)

    def test_critical_check_invalidates_the_session(self):
        self.register(ttl_service("sess-svc"))
        self.sim.put("/v1/agent/check/pass/sess-svc:ttl")
        session_id = self.create({"ServiceChecks": [{"ID": "sess-svc:ttl"}],
                                  "LockDelay": "0s"})
        self.assertEqual(self.info(session_id)[0]["ServiceChecks"],
                         [{"ID": "sess-svc:ttl", "Namespace": ""}])
        self.kv_put("lock/svc", "v", f"?acquire={session_id}")
        self.sim.put("/v1/agent/check/fail/sess-svc:ttl")
        self.assertEqual(self.info(session_id), [])
        self.assertNotIn("Session", self.kv_get("lock/svc")[2][0])
        self.assertEqual(self.sim.put("/v1/session/create",
                                      {"ServiceChecks": [{"ID": "sess-svc:ttl"}]})[::2],
                         (500, "Check 'sess-svc:ttl' is in critical state"))


class TestBlockingQueries(KvSimTest):
    def tearDown(self):
        self.sim.control("PUT", "/fault", {"mode": "none"})

    def test_wait_returns_the_same_index_after_the_wait(self):
        self.kv_put("blk/wait", "v")
        index = self.index_of("/v1/kv/blk/wait")
        started = time.monotonic()
        status, headers, _ = self.sim.agent("GET", f"/v1/kv/blk/wait?index={index}&wait=1s")
        elapsed = time.monotonic() - started
        self.assertEqual((status, int(headers["X-Consul-Index"])), (200, index))
        self.assertGreaterEqual(elapsed, 1.0)
        self.assertLess(elapsed, 1.0 + 1 / 16 + 0.5)

    def test_a_write_wakes_a_blocked_get(self):
        self.kv_put("blk/wake", "v1")
        index = self.index_of("/v1/kv/blk/wake")
        getter = BlockingGet(self.sim, f"/v1/kv/blk/wake?index={index}&wait=20s")
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/kv/blk/wake")))
        written = time.monotonic()
        self.kv_put("blk/wake", "v2")
        getter.join(5)
        self.assertIsNotNone(getter.result, getter.error)
        self.assertLess(time.monotonic() - written, 1.0)
        status, headers, text = getter.result
        self.assertGreater(int(headers["X-Consul-Index"]), index)
        self.assertEqual(base64.b64decode(json.loads(text)[0]["Value"]), b"v2")

    def test_identical_write_does_not_wake(self):
        self.kv_put("blk/same", "v")
        index = self.index_of("/v1/kv/blk/same")
        getter = BlockingGet(self.sim, f"/v1/kv/blk/same?index={index}&wait=1s")
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/kv/blk/same")))
        self.kv_put("blk/same", "v")
        getter.join(5)
        self.assertEqual(int(getter.result[1]["X-Consul-Index"]), index)
        self.assertGreaterEqual(getter.elapsed, 0.9)

    def test_lower_index_and_index_zero_answer_at_once(self):
        self.kv_put("blk/now", "v")
        index = self.index_of("/v1/kv/blk/now")
        for query in (f"?index={index - 1}&wait=10s", "?index=0&wait=10s", "?wait=10s"):
            started = time.monotonic()
            self.assertEqual(self.sim.agent("GET", "/v1/kv/blk/now" + query)[0], 200)
            self.assertLess(time.monotonic() - started, 0.5, query)

    def test_missing_key_blocks_until_it_is_written(self):
        index = self.index_of("/v1/kv/blk/later")
        getter = BlockingGet(self.sim, f"/v1/kv/blk/later?index={index}&wait=20s")
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/kv/blk/later")))
        self.kv_put("blk/later", "now")
        getter.join(5)
        self.assertEqual(getter.result[0], 200)

    def test_missing_key_keeps_blocking_through_other_writes(self):
        """agent/consul/kvs_endpoint.go Get returns ErrNotFound: once "not found" has
        been seen, a moving table index alone does not end the wait."""
        index = self.index_of("/v1/kv/blk/absent")
        getter = BlockingGet(self.sim, f"/v1/kv/blk/absent?index={index}&wait=1s")
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/kv/blk/absent")))
        self.kv_put("blk/unrelated", "x")
        getter.join(5)
        status, headers, _ = getter.result
        self.assertEqual(status, 404)
        self.assertGreater(int(headers["X-Consul-Index"]), index)
        self.assertGreaterEqual(getter.elapsed, 0.9)

    def test_many_concurrent_blocked_requests(self):
        self.kv_put("blk/many", "v")
        index = self.index_of("/v1/kv/blk/many")
        getters = [BlockingGet(self.sim, f"/v1/kv/blk/many?index={index}&wait=30s")
                   for _ in range(40)]
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/kv/blk/many") == 40))
        # Other requests are still served while they wait.
        self.assertEqual(self.sim.agent("GET", "/v1/agent/self")[0], 200)
        self.kv_put("blk/many", "w")
        for getter in getters:
            getter.join(5)
            self.assertEqual(getter.result[0], 200, getter.error)
            self.assertGreater(int(getter.result[1]["X-Consul-Index"]), index)

    def test_catalog_index_ignores_kv_writes(self):
        self.register(ttl_service("blk-svc"))
        index = self.index_of("/v1/health/service/blk-svc")
        getter = BlockingGet(self.sim, f"/v1/health/service/blk-svc?index={index}&wait=1s")
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/health/service/")))
        self.kv_put("blk/other", "x")
        getter.join(5)
        self.assertEqual(int(getter.result[1]["X-Consul-Index"]), index)
        getter = BlockingGet(self.sim, f"/v1/health/service/blk-svc?index={index}&wait=20s")
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/health/service/")))
        self.sim.put("/v1/agent/check/pass/blk-svc:ttl")
        getter.join(5)
        entry, = json.loads(getter.result[2])
        self.assertEqual(entry["Checks"][-1]["Status"], "passing")

    def test_agent_service_hash_blocking(self):
        self.register(ttl_service("blk-hash"))
        status, headers, _ = self.sim.agent("GET", "/v1/agent/service/blk-hash")
        content_hash = headers["X-Consul-ContentHash"]
        getter = BlockingGet(self.sim, f"/v1/agent/service/blk-hash?hash={content_hash}"
                                       "&wait=20s")
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/agent/service/")))
        body = ttl_service("blk-hash")
        body["Tags"] = ["changed"]
        self.register(body)
        getter.join(5)
        self.assertNotEqual(getter.result[1]["X-Consul-ContentHash"], content_hash)
        self.assertEqual(json.loads(getter.result[2])["Tags"], ["changed"])

    def test_session_info_blocks(self):
        index = self.index_of("/v1/session/list")
        getter = BlockingGet(self.sim, f"/v1/session/list?index={index}&wait=20s")
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/session/list")))
        self.sim.put("/v1/session/create")
        getter.join(5)
        self.assertGreater(int(getter.result[1]["X-Consul-Index"]), index)

    def test_fault_no_block_answers_at_once_with_the_same_index(self):
        self.kv_put("blk/nb", "v")
        index = self.index_of("/v1/kv/blk/nb")
        self.sim.control("PUT", "/fault", {"mode": "no-block", "path_prefix": "/v1/kv/"})
        for _ in range(3):
            started = time.monotonic()
            status, headers, _ = self.sim.agent("GET", f"/v1/kv/blk/nb?index={index}&wait=30s")
            self.assertEqual((status, int(headers["X-Consul-Index"])), (200, index))
            self.assertLess(time.monotonic() - started, 0.5)
        self.assertEqual(self.sim.log()[-1]["fault"], "no-block")

    def test_fault_hang_blocking_never_answers(self):
        self.kv_put("blk/hang", "v")
        index = self.index_of("/v1/kv/blk/hang")
        self.sim.control("PUT", "/fault", {"mode": "hang-blocking"})
        connection = socket.create_connection(("127.0.0.1", self.sim.agent_port), timeout=5)
        connection.sendall(f"GET /v1/kv/blk/hang?index={index}&wait=100ms HTTP/1.1\r\n"
                           "Host: x\r\n\r\n".encode())
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/kv/blk/hang")))
        # Non-blocking reads (and writes) are served; a write does not release it.
        self.assertEqual(self.kv_get("blk/hang")[0], 200)
        self.kv_put("blk/hang", "w")
        connection.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            connection.recv(100)
        self.assertEqual([e["fault"] for e in self.sim.log()
                          if e["path"] == "/v1/kv/blk/hang" and e["status"] == 0],
                         ["hang-blocking"])
        self.sim.control("PUT", "/fault", {"mode": "none"})
        connection.settimeout(5)
        self.assertEqual(connection.recv(100), b"")
        connection.close()

    def test_snapshot_restore_moves_the_index_back(self):
        self.kv_put("blk/restore", "old")
        old_index = self.index_of("/v1/kv/blk/restore")
        self.assertEqual(self.sim.control("POST", "/snapshot")[0], 200)
        self.kv_put("blk/restore", "new")
        self.kv_put("blk/restore-later", "x")
        new_index = self.index_of("/v1/kv/blk/restore")
        getter = BlockingGet(self.sim, f"/v1/kv/blk/restore?index={new_index}&wait=20s")
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/kv/blk/restore")))
        self.assertEqual(self.sim.control("POST", "/restore")[0], 200)
        getter.join(5)
        self.assertEqual(int(getter.result[1]["X-Consul-Index"]), old_index)
        self.assertLess(old_index, new_index)
        self.assertEqual(base64.b64decode(json.loads(getter.result[2])[0]["Value"]), b"old")
        self.assertEqual(self.kv_get("blk/restore-later")[0], 404)


class TestEnterpriseMeta(unittest.TestCase):
    """agent/http_ce.go: a CE agent refuses ns= and partition= with a 400 rather than
    register into the default namespace; --enterprise accepts them."""

    def test_community_edition_refuses_namespace_and_partition(self):
        sim = Sim()
        try:
            body = ttl_service("ent-1")
            status, _, text = sim.put("/v1/agent/service/register?ns=team-a", body)
            self.assertEqual(status, 400)
            self.assertEqual(text, 'Invalid query parameter: "ns" - Namespaces are a Consul '
                                   'Enterprise feature')
            status, _, text = sim.put("/v1/agent/service/register?partition=p1", body)
            self.assertEqual((status, "Partitions are a Consul Enterprise feature" in text),
                             (400, True))
            status, _, _ = sim.agent("GET", "/v1/kv/x", headers={"X-Consul-Namespace": "a"})
            self.assertEqual(status, 400)
            self.assertEqual(sim.put("/v1/agent/service/register?ns=", body)[0], 200)
        finally:
            sim.stop()

    def test_enterprise_accepts_them(self):
        sim = Sim("--enterprise")
        try:
            status, _, _ = sim.put("/v1/agent/service/register?ns=team-a&partition=p1",
                                   ttl_service("ent-2"))
            self.assertEqual(status, 200)
            self.assertIn("ns=team-a", sim.log()[-1]["query"])
        finally:
            sim.stop()


class TestFreshAgentIndexes(unittest.TestCase):
    def test_empty_tables_answer_index_one_never_zero(self):
        sim = Sim()
        try:
            for path, status in (("/v1/kv/none", 404), ("/v1/kv/none/?recurse", 404),
                                 ("/v1/kv/?keys", 200), ("/v1/session/list", 200),
                                 ("/v1/session/info/none", 200), ("/v1/event/list", 200)):
                code, headers, _ = sim.agent("GET", path)
                self.assertEqual((code, headers["X-Consul-Index"]), (status, "1"), path)
            # Index 1 blocks until the first write (the docs' "always safe" index).
            getter = BlockingGet(sim, "/v1/kv/first?index=1&wait=20s")
            self.assertTrue(wait_for(lambda: waiting_requests(sim, "/v1/kv/first")))
            sim.put("/v1/kv/first", "x")
            getter.join(5)
            self.assertEqual(getter.result[0], 200)
        finally:
            sim.stop()


class TestBlockingShutdown(unittest.TestCase):
    def test_quit_is_prompt_with_blocked_requests(self):
        sim = Sim()
        try:
            getters = [BlockingGet(sim, "/v1/kv/x?index=1&wait=10m", timeout=30)
                       for _ in range(10)]
            self.assertTrue(wait_for(lambda: waiting_requests(sim, "/v1/kv/x") == 10))
            started = time.monotonic()
            sim.control("POST", "/quit")
            self.assertEqual(sim.proc.wait(5), 0)
            self.assertLess(time.monotonic() - started, 3)
            for getter in getters:
                getter.join(5)
                self.assertIsNone(getter.result)
        finally:
            sim.stop()

    def test_stop_ends_blocked_requests(self):
        sim = Sim()
        try:
            sim.put("/v1/agent/service/register", ttl_service("stop-hash"))
            content_hash = sim.agent("GET", "/v1/agent/service/stop-hash")[1][
                "X-Consul-ContentHash"]
            getters = [BlockingGet(sim, "/v1/kv/x?index=1&wait=10m", timeout=30),
                       BlockingGet(sim, f"/v1/agent/service/stop-hash?hash={content_hash}"
                                        "&wait=10m", timeout=30)]
            self.assertTrue(wait_for(lambda: waiting_requests(sim, "/v1/") == 2))
            sim.control("POST", "/stop")
            for getter in getters:
                getter.join(5)
                self.assertFalse(getter.is_alive())
                self.assertIsNone(getter.result)
        finally:
            sim.stop()


class TestEvents(SharedSimTest):
    def fire(self, name, payload=None, query=""):
        status, _, text = self.sim.put(f"/v1/event/fire/{name}{query}", payload)
        return status, (json.loads(text) if text.startswith("{") else text)

    def test_fire_and_list(self):
        status, event = self.fire("ev-deploy", "v1.2")
        self.assertEqual(status, 200)
        self.assertEqual((event["Name"], base64.b64decode(event["Payload"]), event["Version"],
                          event["LTime"]), ("ev-deploy", b"v1.2", 1, 0))
        status, headers, text = self.sim.agent("GET", "/v1/event/list?name=ev-deploy")
        listed = json.loads(text)
        self.assertEqual([e["ID"] for e in listed], [event["ID"]])
        self.assertGreater(listed[0]["LTime"], 0)
        parts = event["ID"].replace("-", "")
        expected = int(parts[:16], 16) ^ int(parts[16:], 16)
        self.assertEqual(int(headers["X-Consul-Index"]), expected)
        self.assertNotIn("X-Consul-KnownLeader", headers)
        status, headers, text = self.sim.agent("GET", "/v1/event/list?name=ev-none")
        self.assertEqual((status, text.strip(), headers["X-Consul-Index"]), (200, "[]", "1"))
        self.assertIsNone(self.fire("ev-empty")[1]["Payload"])

    def test_filters_decide_whether_this_agent_lists_it(self):
        self.register(ttl_service("ev-web", Notes=""), "")
        self.register({"ID": "ev-db", "Name": "ev-db", "Tags": ["primary"]})
        self.fire("ev-f1", query="?node=other-node")
        self.fire("ev-f2", query="?node=sim")
        self.fire("ev-f3", query="?service=ev-db&tag=prim")
        self.fire("ev-f4", query="?service=ev-db&tag=replica")
        names = [e["Name"] for e in self.sim.get_json("/v1/event/list")[1]]
        self.assertEqual([n for n in names if n.startswith("ev-f")], ["ev-f2", "ev-f3"])

    def test_errors(self):
        self.assertEqual(self.sim.put("/v1/event/fire/")[::2], (400, "Missing name"))
        self.assertEqual(self.fire("ev-x", query="?tag=a"),
                         (500, "Cannot provide tag filter without service filter"))
        self.assertEqual(self.fire("ev-x", query="?dc=dc9"), (500, "No path to datacenter"))

    def test_list_blocks_until_an_event(self):
        self.fire("ev-block")
        index = self.sim.agent("GET", "/v1/event/list?name=ev-block")[1]["X-Consul-Index"]
        getter = BlockingGet(self.sim, f"/v1/event/list?name=ev-block&index={index}&wait=20s")
        self.assertTrue(wait_for(lambda: waiting_requests(self.sim, "/v1/event/list")))
        self.fire("ev-other")   # wakes the loop, but its name filter keeps it waiting
        getter.join(0.3)
        self.assertTrue(getter.is_alive(), "an event of another name answered the wait")
        self.fire("ev-block")
        getter.join(5)
        self.assertEqual(len(json.loads(getter.result[2])), 2)
        self.assertNotEqual(getter.result[1]["X-Consul-Index"], index)


class TestCatalogAndHealth(SharedSimTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for service_id, tags, port in (("web-1", ["blue", "v1"], 8080),
                                       ("web-2", ["green"], 8081)):
            body = ttl_service(service_id, name="web")
            body.update(Tags=tags, Port=port, Meta={"team": "a" if port == 8080 else "b"})
            cls.sim.put("/v1/agent/service/register", body)
        cls.sim.put("/v1/agent/check/pass/web-1:ttl")

    def test_status_and_members(self):
        # Go's encoding/json, indented in dev mode, with a newline at the end.
        self.assertEqual(self.sim.agent("GET", "/v1/status/leader")[::2],
                         (200, '"127.0.0.1:8300"\n'))
        self.assertEqual(self.sim.get_json("/v1/status/peers"), (200, ["127.0.0.1:8300"]))
        status, members = self.sim.get_json("/v1/agent/members")
        self.assertEqual((status, members[0]["Name"], members[0]["Status"]),
                         (200, "sim-node", 1))

    def test_catalog(self):
        status, headers, text = self.sim.agent("GET", "/v1/catalog/datacenters")
        self.assertEqual((status, json.loads(text)), (200, ["dc1"]))
        self.assertNotIn("X-Consul-Index", headers)
        status, nodes = self.sim.get_json("/v1/catalog/nodes")
        self.assertEqual([n["Node"] for n in nodes], ["sim-node"])
        services = self.sim.get_json("/v1/catalog/services")[1]
        self.assertEqual((services["consul"], sorted(services["web"])),
                         ([], ["blue", "green", "v1"]))
        entries = self.sim.get_json("/v1/catalog/service/web?tag=blue")[1]
        self.assertEqual([e["ServiceID"] for e in entries], ["web-1"])
        self.assertEqual(self.sim.get_json("/v1/catalog/service/nope")[1], [])

    def test_health_service_passing_tag_and_filter(self):
        entries = self.sim.get_json("/v1/health/service/web")[1]
        self.assertEqual([e["Service"]["ID"] for e in entries], ["web-1", "web-2"])
        self.assertEqual(entries[0]["Checks"][0]["CheckID"], "serfHealth")
        passing = self.sim.get_json("/v1/health/service/web?passing")[1]
        self.assertEqual([e["Service"]["ID"] for e in passing], ["web-1"])
        tagged = self.sim.get_json("/v1/health/service/web?tag=green")[1]
        self.assertEqual([e["Service"]["ID"] for e in tagged], ["web-2"])
        for expression, expected in (
                ('Service.Meta.team == "b"', ["web-2"]),
                ('"v1" in Service.Tags', ["web-1"]),
                ('"v1" not in Service.Tags', ["web-2"]),
                ('Service.Port == 8080 or Service.ID == web-2', ["web-1", "web-2"]),
                ('Checks.Status == critical', ["web-2"]),
                ('Service.ID matches "-1$" and not Service.Tags is empty', ["web-1"])):
            result = self.sim.get_json("/v1/health/service/web?filter=" +
                                       urllib.parse.quote(expression))[1]
            self.assertEqual([e["Service"]["ID"] for e in result], expected, expression)
        status, text = self.sim.get_json("/v1/health/service/web?filter=" +
                                         urllib.parse.quote("Nope == 1"))
        self.assertEqual((status, text), (500, "Failed to create boolean expression "
                                               'evaluator: Selector "Nope" is not valid'))

    def test_health_checks_node_and_state(self):
        checks = self.sim.get_json("/v1/health/checks/web")[1]
        self.assertEqual(sorted(c["CheckID"] for c in checks), ["web-1:ttl", "web-2:ttl"])
        node = self.sim.get_json("/v1/health/node/sim-node")[1]
        self.assertEqual(node[0]["CheckID"], "serfHealth")
        self.assertEqual(self.sim.get_json("/v1/health/node/other")[1], [])
        critical = [c["CheckID"] for c in self.sim.get_json("/v1/health/state/critical")[1]]
        self.assertIn("web-2:ttl", critical)
        self.assertNotIn("web-1:ttl", critical)
        passing = [c["CheckID"] for c in self.sim.get_json("/v1/health/state/passing")[1]]
        self.assertIn("serfHealth", passing)
        self.assertGreaterEqual(len(self.sim.get_json("/v1/health/state/any")[1]), 3)
        self.assertEqual(self.sim.get_json("/v1/health/state/bogus")[1], [])
        self.assertEqual(self.sim.agent("GET", "/v1/health/state/")[::2],
                         (400, "Missing check state"))
        filtered = self.sim.get_json("/v1/health/state/any?filter=" +
                                     urllib.parse.quote('ServiceName == "web"'))[1]
        self.assertEqual(sorted(c["CheckID"] for c in filtered), ["web-1:ttl", "web-2:ttl"])

    def test_reads_carry_query_meta(self):
        for path in ("/v1/catalog/nodes", "/v1/catalog/services", "/v1/health/state/any",
                     "/v1/health/service/web", "/v1/session/list"):
            headers = self.sim.agent("GET", path)[1]
            self.assertGreaterEqual(int(headers["X-Consul-Index"]), 1, path)
            self.assertEqual(headers["X-Consul-KnownLeader"], "true", path)
            self.assertEqual(self.sim.agent("GET", path + "?dc=elsewhere")[::2],
                             (500, "No path to datacenter"), path)


# ---------------------------------------------------------------------------
# A real third-party client: python3-consul2 (Debian), run by /usr/bin/python3
# ---------------------------------------------------------------------------

SYSTEM_PYTHON = "/usr/bin/python3"
CONSUL2_SCRIPT = r'''
import json, sys, threading, time, urllib.request
import consul

c = consul.Consul(host="127.0.0.1", port=int(sys.argv[1]))
out = {}


def blocked_reads():
    """Unanswered blocking KV reads in the simulator's request log."""
    url = f"http://127.0.0.1:{sys.argv[2]}/log"
    with urllib.request.urlopen(url, timeout=5) as response:
        log = json.load(response)
    return [e for e in log if e["path"] == "/v1/kv/foo" and "index=" in e["query"]
            and e["status"] == 0]

# The KV blocking loop, woken by a put from another thread.
index, data = c.kv.get("foo")
out["missing"] = [index is not None and int(index) >= 1, data]
c.kv.put("foo", "one")
index, data = c.kv.get("foo")
seen = [data["Value"].decode()]
def writer():
    deadline = time.monotonic() + 5
    while not blocked_reads() and time.monotonic() < deadline:
        time.sleep(0.02)   # poll interval: wait until the reader is blocked
    c.kv.put("foo", "two")
threading.Thread(target=writer).start()
started = time.monotonic()
index2, data = c.kv.get("foo", index=index, wait="10s")
seen.append(data["Value"].decode())
out["blocking"] = [seen, int(index2) > int(index), time.monotonic() - started < 5,
                   len(blocked_reads()) == 0]
index3, _ = c.kv.get("foo", index=index2, wait="500ms")
out["timeout_same_index"] = index3 == index2
out["recurse"] = [e["Key"] for e in c.kv.get("", recurse=True)[1]]
out["keys"] = c.kv.get("", keys=True)[1]

# Sessions and locks.
sid = c.session.create(name="lock", ttl=10, lock_delay=0)
out["renew"] = c.session.renew(sid)["ID"] == sid
out["acquire"] = c.kv.put("lock", "me", acquire=sid)
out["held_by"] = c.kv.get("lock")[1]["Session"] == sid
other = c.session.create(behavior="delete")
out["acquire_other"] = c.kv.put("lock", "them", acquire=other)
out["release"] = c.kv.put("lock", "done", release=sid)
out["info"] = c.session.info(sid)[1]["Name"]
out["list"] = sorted(s["ID"] for s in c.session.list()[1]) == sorted([sid, other])
out["destroy"] = c.session.destroy(sid)
out["info_gone"] = c.session.info(sid)[1]
out["cas"] = [c.kv.put("cas", "a", cas=0), c.kv.put("cas", "b", cas=0)]
out["delete"] = c.kv.delete("cas")

# Health and catalog.
c.agent.service.register("api", service_id="api-1", port=9000, tags=["t1"],
                         check=consul.Check.ttl("30s"))
c.agent.check.ttl_pass("service:api-1")
index, nodes = c.health.service("api", passing=True)
out["health"] = [n["Service"]["ID"] for n in nodes]
out["health_checks"] = sorted(ch["CheckID"] for ch in nodes[0]["Checks"])
out["catalog_services"] = c.catalog.services()[1]
out["catalog_service"] = [s["ServiceID"] for s in c.catalog.service("api")[1]]
out["catalog_nodes"] = [n["Node"] for n in c.catalog.nodes()[1]]
out["datacenters"] = c.catalog.datacenters()
out["state"] = sorted(ch["CheckID"] for ch in c.health.state("passing")[1])
out["event"] = c.event.fire("hello", body="payload")["Name"]
out["events"] = [e["Name"] for e in c.event.list(name="hello")[1]]
out["leader"] = c.status.leader()
print(json.dumps(out))
'''


def consul2_importable():
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import consul"], capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=30).returncode == 0


@unittest.skipUnless(consul2_importable(),
                     "python3-consul2 is not importable by /usr/bin/python3 "
                     "(apt-get install python3-consul2, or make deps)")
class TestPythonConsul2Client(unittest.TestCase):
    def test_client_against_the_simulator(self):
        sim = Sim()
        try:
            result = subprocess.run([SYSTEM_PYTHON, "-c", CONSUL2_SCRIPT, str(sim.agent_port),
                                     str(sim.control_port)],
                                    capture_output=True, text=True, timeout=60,
                                    stdin=subprocess.DEVNULL)
            self.assertEqual(result.returncode, 0, result.stderr)
            out = json.loads(result.stdout)
        finally:
            sim.stop()
        self.assertEqual(out["missing"], [True, None])
        self.assertEqual(out["blocking"], [["one", "two"], True, True, True])
        self.assertTrue(out["timeout_same_index"])
        self.assertEqual(out["recurse"], ["foo"])
        self.assertEqual(out["keys"], ["foo"])
        self.assertEqual((out["renew"], out["acquire"], out["held_by"], out["acquire_other"],
                          out["release"], out["info"], out["list"], out["destroy"],
                          out["info_gone"]),
                         (True, True, True, False, True, "lock", True, True, None))
        self.assertEqual(out["cas"], [True, False])
        self.assertTrue(out["delete"])
        self.assertEqual(out["health"], ["api-1"])
        self.assertEqual(out["health_checks"], ["serfHealth", "service:api-1"])
        self.assertEqual(out["catalog_services"], {"api": ["t1"], "consul": []})
        self.assertEqual(out["catalog_service"], ["api-1"])
        self.assertEqual((out["catalog_nodes"], out["datacenters"]), (["sim-node"], ["dc1"]))
        self.assertEqual(out["state"], ["serfHealth", "service:api-1"])
        self.assertEqual((out["event"], out["events"]), ("hello", ["hello"]))
        self.assertEqual(out["leader"], "127.0.0.1:8300")


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
