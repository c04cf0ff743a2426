#!/usr/bin/env python3
"""Consul agent simulator for ostiary's tests (Python 3 standard library only).

It speaks the part of the local Consul agent's HTTP API that a client which
registers a service with a TTL check, pushes its health and deregisters on
shutdown touches, and behaves like `consul agent -dev` (no data dir, so a
restart forgets everything).  A second "control" port lets tests look inside
(request log, state), inject faults and stop/start the agent.

    python3 consul_sim.py [--host 127.0.0.1] [--port 0] [--control-port 0]
        [--unix PATH] [--acl-token SECRET]... [--output-max-size 4096]
        [--dcsa-min 60s] [--reap-interval 30s] [--ready-file PATH]
        [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
        [--https-handshake-timeout 5s] [--session-ttl-min 10s]

When listening it prints one JSON line, {"agent_port": N, "control_port": M,
"pid": P, "tls": false}, and runs until SIGTERM/SIGINT or POST /quit on the
control port.

--tls-cert/--tls-key serve the agent TCP port as HTTPS only (like an agent with
ports.http = -1 and ports.https set); --tls-client-ca also demands a client
certificate signed by that CA (tls.https.verify_incoming).  The unix socket and
the control port stay plain HTTP.  tests/sim/make-certs.sh DIR makes a set of
certificates for this.  --https-handshake-timeout is limits.https_handshake_timeout:
how long a new HTTPS connection may take to handshake and start its first request.

Behaviour follows github.com/hashicorp/consul; comments name the source file
(and function) each rule comes from.

Control API (127.0.0.1:<control_port>, JSON in and out):
    GET    /log[?since=SEQ]  agent requests in arrival order
    DELETE /log[?through=SEQ]  clear the log, or only its entries up to SEQ (sequence
                             numbers continue): a client polling with since= keeps the
                             log short without losing what arrived after its last poll
    GET    /state            {"services": {...}, "checks": {...}, ...}
    PUT    /fault            {"mode", "status", "body", "delay_ms", "path_prefix", "count"}
    GET    /fault            the fault in force
    POST   /stop | /start | /restart
    PUT    /acl              {"tokens": [...]}  (empty list: ACLs off)
    POST   /quit
    GET    /status           {"listening", "agent_port", "control_port", "pid", "tls",
                              "tls_client_auth", "tls_failures", "connections_accepted"}
    POST   /snapshot         remember the server state (KV, sessions, indexes)
    POST   /restore          go back to it: a Raft snapshot restore, the index moves back
    POST   /reap-tombstones  the KV tombstone GC (a prefix's index may go backwards)

Fault modes: error, hang, delay, garbage, reset and endless (200 OK with a chunked
body that never ends) apply to any request; no-block
(answer at once, as if the wait had run out, so the index comes back unchanged)
and hang-blocking (the request is held, never answered, until the fault changes
or the agent stops) apply only to blocking queries (GET with ?index= above 0).

Beyond the agent endpoints it plays the server the agent talks to: a KV store,
sessions, user events, status, and catalog/health views of the registered
services on one node (the agent's, with its passing serfHealth check).  One
Raft-like index moves on every write; each read answers its own table's index,
and a blocking query (index > 0) waits on the state's Condition, woken by writes.

tls_failures counts, by reason, the connections to the HTTPS port that never got
as far as HTTP: e.g. {"PEER_DID_NOT_RETURN_A_CERTIFICATE": 1} (no client
certificate), "TLSV1_ALERT_UNKNOWN_CA" (the client rejected our certificate),
"client sent an HTTP request to an HTTPS server", "handshake timeout".  It
survives /stop and /start.

connections_accepted counts the connections accepted on the agent's port (and
unix socket) since the simulator started, across /stop and /start: how often a
client reconnects (tests/bench/scale.py, new connections per minute).
"""

import argparse
import base64
import copy
import email.utils
import hashlib
import heapq
import http
import json
import os
import random
import re
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NODE_NAME = "sim-node"
NODE_ADDRESS = "127.0.0.1"
DATACENTER = "dc1"
VERSION = "1.17.0-sim"
NODE_ID = str(uuid.uuid4())

# agent/structs/structs.go (ServiceMaintPrefix); agent/agent.go defaultServiceMaintReason.
SERVICE_MAINT_PREFIX = "_service_maintenance:"
DEFAULT_MAINT_REASON = ("Maintenance mode is enabled for this service, but no reason was "
                        "provided. This is a default message.")

HEALTH_PASSING, HEALTH_WARNING, HEALTH_CRITICAL = "passing", "warning", "critical"
VALID_STATUSES = (HEALTH_PASSING, HEALTH_WARNING, HEALTH_CRITICAL)

NS_PER_SECOND = 10 ** 9
# agent/http.go blockingQuery / agent.go LocalBlockingQuery: default and maximum wait.
DEFAULT_QUERY_WAIT_NS = 300 * NS_PER_SECOND
MAX_QUERY_WAIT_NS = 600 * NS_PER_SECOND
# A fresh `consul agent -dev` has done a few Raft writes before anyone registers.
INITIAL_RAFT_INDEX = 12


# ---------------------------------------------------------------------------
# Go compatibility helpers
# ---------------------------------------------------------------------------

def go_quote(text):
    """Roughly Go's %q / strconv.Quote."""
    return json.dumps(text, ensure_ascii=False)


_DURATION_UNITS = {"ns": 1, "us": 10 ** 3, "\u00b5s": 10 ** 3, "\u03bcs": 10 ** 3,
                   "ms": 10 ** 6, "s": NS_PER_SECOND, "m": 60 * NS_PER_SECOND,
                   "h": 3600 * NS_PER_SECOND}
_DURATION_NUMBER = re.compile(r"([0-9]*)(?:\.([0-9]*))?")
_DURATION_UNIT = re.compile(r"[^0-9.]*")


def parse_go_duration(text):
    """time.ParseDuration: "1m30s", "500ms", "1.5h" -> nanoseconds (ValueError with Go's text)."""
    invalid = ValueError("time: invalid duration " + go_quote(text))
    rest, negative = text, False
    if rest[:1] in ("+", "-"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0
    if rest == "":
        raise invalid
    total = 0
    while rest:
        number = _DURATION_NUMBER.match(rest)
        whole, fraction = number.group(1), number.group(2) or ""
        if not whole and not fraction:
            raise invalid
        rest = rest[number.end():]
        unit = _DURATION_UNIT.match(rest).group(0)
        rest = rest[len(unit):]
        if unit == "":
            raise ValueError("time: missing unit in duration " + go_quote(text))
        if unit not in _DURATION_UNITS:
            raise ValueError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        scale = _DURATION_UNITS[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        if total > 2 ** 63 - 1:
            raise invalid
    return -total if negative else total


def _decimal(value, digits):
    """value / 10**digits with trailing zeros trimmed, as Go's Duration.String prints it."""
    whole, fraction = divmod(value, 10 ** digits)
    if fraction == 0:
        return str(whole)
    return f"{whole}." + str(fraction).rjust(digits, "0").rstrip("0")


def format_go_duration(ns):
    """time.Duration.String(): 0 -> "0s", 90s -> "1m30s", 1h -> "1h0m0s"."""
    if ns == 0:
        return "0s"
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    if ns < 1000:
        return f"{sign}{ns}ns"
    if ns < 10 ** 6:
        return f"{sign}{_decimal(ns, 3)}\u00b5s"
    if ns < NS_PER_SECOND:
        return f"{sign}{_decimal(ns, 6)}ms"
    minutes, rest = divmod(ns, 60 * NS_PER_SECOND)
    seconds = _decimal(rest, 9) + "s"
    if minutes == 0:
        return sign + seconds
    hours, minutes = divmod(minutes, 60)
    return sign + (f"{hours}h" if hours else "") + f"{minutes}m" + seconds


def parse_go_bool(text):
    """strconv.ParseBool; None when the text is not a Go boolean."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def go_unescape(text, plus_is_space):
    """net/url unescape: a '%' not followed by two hex digits is an error (ValueError)."""
    if _BAD_ESCAPE.search(text):
        raise ValueError("invalid URL escape")
    if plus_is_space:
        text = text.replace("+", " ")
    return urllib.parse.unquote_to_bytes(text).decode("utf-8", "replace")


def parse_go_query(raw_query):
    """url.ParseQuery: returns (values, error); ';' separators and bad escapes are errors."""
    values, error = {}, None
    for part in raw_query.split("&"):
        if part == "":
            continue
        if ";" in part:
            error = error or "invalid semicolon separator in query"
            continue
        key, _, value = part.partition("=")
        try:
            key, value = go_unescape(key, True), go_unescape(value, True)
        except ValueError as exc:
            error = error or str(exc)
            continue
        values.setdefault(key, []).append(value)
    return values, error


def go_clean_path(path):
    """net/http cleanPath: path.Clean, keeping a trailing slash."""
    if not path.startswith("/"):
        path = "/" + path
    parts = []
    for element in path.split("/"):
        if element in ("", "."):
            continue
        if element == "..":
            if parts:
                parts.pop()
            continue
        parts.append(element)
    cleaned = "/" + "/".join(parts)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def go_json(value):
    """JSON as the dev agent writes it: agent/http.go marshalJSON indents in dev mode,
    and encoding/json escapes <, > and & for HTML safety."""
    text = json.dumps(value, indent=4, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return (text + "\n").encode("utf-8")


# ---------------------------------------------------------------------------
# Strict JSON request decoding
#
# lib/json.go DecodeJSON (used by agent/http.go decodeBody and by the structs'
# own UnmarshalJSON through lib.UnmarshalJSON) calls DisallowUnknownFields, so
# an unknown key is `json: unknown field "X"`.  encoding/json matches keys
# exactly first and then case-insensitively.  Errors inside a value decoded
# by a custom UnmarshalJSON (a service's Check/Checks) abort decoding at once;
# other errors are remembered and the first one is reported at the end.
# ---------------------------------------------------------------------------

class DecodeError(Exception):
    """A request body Go would refuse; str() is Go's error text."""


class JsonObject:
    """A JSON object with its keys in document order (duplicates kept), as Go sees it."""

    def __init__(self, pairs):
        self.pairs = pairs


def _reject_constant(name):
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def parse_first_json_value(body):
    """json.Decoder.Decode reads one value and ignores whatever follows it."""
    text = body.decode("utf-8", "replace")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise DecodeError("EOF")
    decoder = json.JSONDecoder(object_pairs_hook=JsonObject, parse_constant=_reject_constant)
    try:
        value, _ = decoder.raw_decode(text, start)
    except ValueError as exc:
        position = getattr(exc, "pos", start)
        if position >= len(text.rstrip()):
            raise DecodeError("unexpected EOF") from None
        raise DecodeError(f"invalid character {text[position]!r} looking for beginning "
                          "of value") from None
    return value


def json_kind(value):
    """The JSON type name Go puts in an UnmarshalTypeError."""
    if isinstance(value, JsonObject):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


class _ErrorMemo:
    """encoding/json decodeState.saveError: the first error wins."""

    def __init__(self):
        self.first = None

    def save(self, message):
        if self.first is None:
            self.first = message


def _type_error(value, where, go_type):
    kind = json_kind(value)
    if kind == "number" and go_type == "int":
        kind = f"number {value}"
    if where is None:
        return f"json: cannot unmarshal {kind} into Go value of type {go_type}"
    return f"json: cannot unmarshal {kind} into Go struct field {where} of type {go_type}"


class Scalar:
    """string, int or bool; a JSON null leaves the field unset."""

    def __init__(self, go_type, python_types, zero):
        self.go_type, self.python_types, self.zero = go_type, python_types, zero

    def decode(self, value, memo, where):
        if value is None:
            return None
        if isinstance(value, bool) and bool not in self.python_types:
            memo.save(_type_error(value, where, self.go_type))
            return None
        if not isinstance(value, self.python_types):
            memo.save(_type_error(value, where, self.go_type))
            return None
        return value


class RawValue:
    """interface{} fields (durations are parsed afterwards) and opaque mesh config."""

    def decode(self, value, memo, where):
        return _plain(value)


def _element(kind, value, memo, where):
    """A list or map element: null becomes the element type's zero value."""
    decoded = kind.decode(value, memo, where)
    return getattr(kind, "zero", None) if decoded is None else decoded


def _plain(value):
    if isinstance(value, JsonObject):
        return {key: _plain(item) for key, item in value.pairs}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class ListOf:
    def __init__(self, element):
        self.element = element

    def decode(self, value, memo, where):
        if value is None:
            return None
        if not isinstance(value, list):
            memo.save(_type_error(value, where, "[]" + getattr(self.element, "go_type", "T")))
            return None
        return [_element(self.element, item, memo, where) for item in value]


class MapOf:
    def __init__(self, element):
        self.element = element

    def decode(self, value, memo, where):
        if value is None:
            return None
        if not isinstance(value, JsonObject):
            memo.save(_type_error(value, where, "map[string]T"))
            return None
        return {key: _element(self.element, item, memo, where) for key, item in value.pairs}


class Struct:
    """A Go struct decoded with DisallowUnknownFields."""

    def __init__(self, go_type, fields):
        self.go_type, self.fields = go_type, fields
        self.by_lower = {name.lower(): name for name in fields}

    def decode(self, value, memo, where=None):
        if value is None:
            return {}
        if not isinstance(value, JsonObject):
            memo.save(_type_error(value, where, self.go_type))
            return {}
        out = {}
        for key, item in value.pairs:
            name = key if key in self.fields else self.by_lower.get(key.lower())
            if name is None:
                memo.save("json: unknown field " + go_quote(key))
                continue
            decoded = self.fields[name].decode(item, memo, f"{self.go_type}.{name}")
            if decoded is not None:
                out[name] = decoded
        return out

    def decode_body(self, body):
        """Top level of a request body (agent/http.go decodeBody)."""
        memo = _ErrorMemo()
        out = self.decode(parse_first_json_value(body), memo)
        if memo.first:
            raise DecodeError(memo.first)
        return out


class CustomStruct:
    """A struct with its own UnmarshalJSON: decoded by a fresh strict decoder,
    then post-processed (aliases, durations); any error aborts the outer decode."""

    def __init__(self, struct_type, post):
        self.struct, self.post = struct_type, post

    def decode(self, value, memo=None, where=None):
        inner = _ErrorMemo()
        out = self.struct.decode(value, inner)
        if inner.first:
            raise DecodeError(inner.first)
        return self.post(out)

    def decode_body(self, body):
        return self.decode(parse_first_json_value(body))


STRING = Scalar("string", (str,), "")
INT = Scalar("int", (int,), 0)
BOOL = Scalar("bool", (bool,), False)
RAW = RawValue()
STRINGS = ListOf(STRING)

# agent/structs/check_type.go CheckType (and its UnmarshalJSON aux struct).
_CHECK_TYPE_FIELDS = {
    "CheckID": STRING, "Name": STRING, "Status": STRING, "Notes": STRING,
    "ScriptArgs": STRINGS, "HTTP": STRING, "H2PING": STRING, "H2PingUseTLS": BOOL,
    "Header": MapOf(STRINGS), "Method": STRING, "Body": STRING, "DisableRedirects": BOOL,
    "TCP": STRING, "UDP": STRING, "Interval": RAW, "AliasNode": STRING, "AliasService": STRING,
    "DockerContainerID": STRING, "Shell": STRING, "GRPC": STRING, "GRPCUseTLS": BOOL,
    "OSService": STRING, "TLSServerName": STRING, "TLSSkipVerify": BOOL, "Timeout": RAW,
    "TTL": RAW, "SuccessBeforePassing": INT, "FailuresBeforeWarning": INT,
    "FailuresBeforeCritical": INT, "ProxyHTTP": STRING, "ProxyGRPC": STRING,
    "DeregisterCriticalServiceAfter": RAW, "OutputMaxSize": INT,
}
_CHECK_TYPE_ALIASES = {
    "args": STRINGS, "script_args": STRINGS, "deregister_critical_service_after": RAW,
    "docker_container_id": STRING, "tls_server_name": STRING, "tls_skip_verify": BOOL,
    "grpc_use_tls": BOOL, "h2ping_use_tls": BOOL,
    # "tolerated but ignored": listed so DisallowUnknownFields accepts them.
    "ServiceID": STRING, "service_id": STRING,
}
# agent/structs/check_definition.go CheckDefinition: ID (not CheckID), ServiceID, Token.
_CHECK_DEFINITION_FIELDS = dict(
    {"ID": STRING, "Name": STRING, "Notes": STRING, "ServiceID": STRING, "Token": STRING,
     "Status": STRING},
    **{name: kind for name, kind in _CHECK_TYPE_FIELDS.items()
       if name not in ("CheckID", "Name", "Status", "Notes", "ProxyHTTP", "ProxyGRPC")})
_CHECK_DEFINITION_ALIASES = {
    "args": STRINGS, "script_args": STRINGS, "deregister_critical_service_after": RAW,
    "docker_container_id": STRING, "tls_server_name": STRING, "tls_skip_verify": BOOL,
    "grpc_use_tls": BOOL, "service_id": STRING, "h2ping_use_tls": BOOL,
    "disable_redirects": BOOL,
}
DURATION_FIELDS = ("Interval", "Timeout", "TTL", "DeregisterCriticalServiceAfter")


def _apply_check_aliases(check):
    """CheckType/CheckDefinition UnmarshalJSON: snake_case aliases fill empty fields,
    then durations are parsed (string: Go duration, number: nanoseconds)."""
    if check.get("DeregisterCriticalServiceAfter") is None and \
            "deregister_critical_service_after" in check:
        check["DeregisterCriticalServiceAfter"] = check["deregister_critical_service_after"]
    for alias in ("args", "script_args"):
        if not check.get("ScriptArgs") and check.get(alias) is not None:
            check["ScriptArgs"] = check[alias]
    for name, alias in (("DockerContainerID", "docker_container_id"),
                        ("TLSServerName", "tls_server_name"), ("ServiceID", "service_id")):
        if not check.get(name) and check.get(alias):
            check[name] = check[alias]
    for name, alias in (("TLSSkipVerify", "tls_skip_verify"), ("GRPCUseTLS", "grpc_use_tls"),
                        ("DisableRedirects", "disable_redirects")):
        if check.get(alias):
            check[name] = True
    for name in DURATION_FIELDS:
        check[name] = _duration_value(check.get(name))
    return check


def _duration_value(raw):
    if isinstance(raw, str):
        try:
            return parse_go_duration(raw)
        except ValueError as exc:
            raise DecodeError(str(exc)) from None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return int(raw)  # time.Duration(float64): nanoseconds, truncated
    return 0


def _check_type_post(check):
    check = _apply_check_aliases(check)
    check.pop("ServiceID", None)  # agent/structs/check_type.go: "going to be ignored"
    return check


CHECK_TYPE = CustomStruct(
    Struct("structs.CheckType", dict(_CHECK_TYPE_FIELDS, **_CHECK_TYPE_ALIASES)),
    _check_type_post)
CHECK_DEFINITION = CustomStruct(
    Struct("structs.CheckDefinition", dict(_CHECK_DEFINITION_FIELDS, **_CHECK_DEFINITION_ALIASES)),
    _apply_check_aliases)

_SERVICE_ADDRESS = Struct("structs.ServiceAddress", {"Address": STRING, "Port": INT})


def _service_definition_post(service):
    """ServiceDefinition.UnmarshalJSON: enable_tag_override / tagged_addresses aliases."""
    if service.get("enable_tag_override"):
        service["EnableTagOverride"] = True
    if not service.get("TaggedAddresses") and service.get("tagged_addresses"):
        service["TaggedAddresses"] = service["tagged_addresses"]
    return service


# agent/structs/service_definition.go ServiceDefinition.  CE's acl.EnterpriseMeta
# is an empty struct, so Namespace/Partition are unknown fields here.
SERVICE_DEFINITION = CustomStruct(Struct("structs.ServiceDefinition", {
    "Kind": STRING, "ID": STRING, "Name": STRING, "Tags": STRINGS, "Address": STRING,
    "TaggedAddresses": MapOf(_SERVICE_ADDRESS), "Meta": MapOf(STRING), "Port": INT,
    "SocketPath": STRING, "Check": CHECK_TYPE, "Checks": ListOf(CHECK_TYPE),
    "Weights": Struct("structs.Weights", {"Passing": INT, "Warning": INT}),
    "Token": STRING, "EnableTagOverride": BOOL, "Proxy": RAW, "Connect": RAW,
    "enable_tag_override": BOOL, "tagged_addresses": MapOf(_SERVICE_ADDRESS),
}), _service_definition_post)

# agent/agent_endpoint.go checkUpdate.
CHECK_UPDATE = Struct("agent.checkUpdate", {"Status": STRING, "Output": STRING})


# ---------------------------------------------------------------------------
# Validation rules
# ---------------------------------------------------------------------------

def check_is_script(check):
    return bool(check.get("ScriptArgs"))


def check_is_alias(check):
    return bool(check.get("AliasNode") or check.get("AliasService"))


def validate_check_type(check):
    """agent/structs/check_type.go CheckType.Validate; None when valid."""
    interval_check = check_is_script(check) or any(
        check.get(key) for key in ("HTTP", "TCP", "UDP", "GRPC", "H2PING", "OSService"))
    interval, ttl = check.get("Interval", 0), check.get("TTL", 0)
    if interval > 0 and ttl > 0:
        return "Interval and TTL cannot both be specified"
    if interval_check and interval <= 0:
        return "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"
    if interval_check and check_is_alias(check):
        return "Interval cannot be set for Alias checks"
    if check_is_alias(check) and ttl > 0:
        return "TTL must be not be set for Alias checks"
    if not interval_check and not check_is_alias(check) and ttl <= 0:
        return "TTL must be > 0 for TTL checks"
    if check.get("OutputMaxSize", 0) < 0:
        return "MaxOutputMaxSize must be positive"
    if check.get("FailuresBeforeWarning", 0) > check.get("FailuresBeforeCritical", 0):
        return "FailuresBeforeWarning can't be higher than FailuresBeforeCritical"
    return None


def check_type_name(check):
    """agent/structs/check_type.go CheckType.Type."""
    interval = check.get("Interval", 0) > 0
    for key, name in (("GRPC", "grpc"), ("HTTP", "http")):
        if check.get(key) and interval:
            return name
    if check.get("TTL", 0) > 0:
        return "ttl"
    for key, name in (("TCP", "tcp"), ("UDP", "udp")):
        if check.get(key) and interval:
            return name
    if check_is_alias(check):
        return "alias"
    if check_is_script(check) and interval:
        return "docker" if check.get("DockerContainerID") else "script"
    for key, name in (("H2PING", "h2ping"), ("OSService", "os_service")):
        if check.get(key) and interval:
            return name
    return ""


def check_type_is_empty(check):
    """CheckType.Empty (reflect.DeepEqual with the zero value): an empty list or
    map is not zero in Go, so only "", 0, false and absent fields count as empty."""
    for name in _CHECK_TYPE_FIELDS:
        value = check.get(name)
        if value is None or value is False or value == "" or (
                isinstance(value, int) and not isinstance(value, bool) and value == 0):
            continue
        return False
    return True


_META_KEY = re.compile(r"^[a-zA-Z0-9_-]+$")


def validate_service_meta(meta):
    """agent/structs/structs.go validateMetadata / validateMetaPair."""
    if len(meta) > 64:
        return "Node metadata cannot contain more than 64 key/value pairs"
    for key, value in meta.items():
        problem = None
        if key == "":
            problem = "Key cannot be blank"
        elif not _META_KEY.match(key):
            problem = "Key contains invalid characters"
        elif len(key) > 128:
            problem = "Key is too long (limit: 128 characters)"
        elif key.startswith("consul-"):
            problem = "Key prefix 'consul-' is reserved for internal use"
        elif len(value.encode()) > 512:
            problem = "Value is too long (limit: 512 characters)"
        if problem:
            return f"Couldn't load metadata pair ('{key}', '{value}'): {problem}"
    return None


def validate_weights(weights):
    """agent/structs/structs.go ValidateWeights."""
    passing, warning = weights.get("Passing", 0), weights.get("Warning", 0)
    if passing < 1:
        return "Passing must be greater than 0"
    if warning < 0:
        return "Warning must be greater or equal than 0"
    if passing > 65535 or warning > 65535:
        return "DNS Weight must be between 0 and 65535"
    return None


def _ip_version(text):
    for family, version in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
        try:
            socket.inet_pton(family, text)
            return version
        except (OSError, ValueError):
            pass
    return None


def validate_tagged_addresses(tagged):
    """agent/agent.go validateService (its IPv6 check looks at lan_ipv6 twice, so a bad
    wan_ipv6 passes; kept as is)."""
    for key, version in (("lan_ipv4", 4), ("wan_ipv4", 4), ("lan_ipv6", 6)):
        if key in tagged and _ip_version(tagged[key].get("Address", "")) != version:
            return f"Service tagged address {go_quote(key)} must be a valid ipv{version} address"
    return None


def truncate_output(output, limit):
    """agent/checks/check.go CheckTTL.SetStatus: keep the first `limit` bytes."""
    raw = output.encode("utf-8", "surrogateescape")
    if len(raw) <= limit:
        return output
    head = raw[:limit].decode("utf-8", "replace")
    return f"{head} ... (captured {limit} of {len(raw)} bytes)"


# ---------------------------------------------------------------------------
# Agent state
# ---------------------------------------------------------------------------

@dataclass
class Service:
    """structs.NodeService as the agent keeps it locally."""
    id: str
    name: str
    tags: list
    address: str = ""
    port: int = 0
    socket_path: str = ""
    meta: dict = field(default_factory=dict)
    weights: dict = field(default_factory=lambda: {"Passing": 1, "Warning": 1})
    enable_tag_override: bool = False
    tagged_addresses: dict = field(default_factory=dict)
    kind: str = ""
    create_index: int = 0
    modify_index: int = 0

    def agent_json(self):
        """agent/agent_endpoint.go buildAgentService -> api.AgentService."""
        weights = {"Passing": self.weights.get("Passing", 0) or 1,
                   "Warning": self.weights.get("Warning", 0)}
        out = {}
        if self.kind:
            out["Kind"] = self.kind
        out.update({"ID": self.id, "Service": self.name, "Tags": list(self.tags),
                    "Meta": dict(sorted(self.meta.items())), "Port": self.port,
                    "Address": self.address})
        if self.socket_path:
            out["SocketPath"] = self.socket_path
        if self.tagged_addresses:
            out["TaggedAddresses"] = {key: dict(value) for key, value in
                                      sorted(self.tagged_addresses.items())}
        out.update({"Weights": weights, "EnableTagOverride": self.enable_tag_override,
                    "Datacenter": DATACENTER})
        return out


@dataclass
class Check:
    """structs.HealthCheck plus the agent's runner state for it (CheckTTL, reaper)."""
    id: str
    name: str
    status: str
    notes: str = ""
    output: str = ""
    service_id: str = ""
    service_name: str = ""
    service_tags: list = field(default_factory=list)
    type: str = ""
    interval: str = ""
    timeout: str = ""
    ttl_ns: int = 0                # >0: a CheckTTL runs for this check
    deadline: float = None         # monotonic time the TTL timer fires, None when not armed
    last_output: str = ""          # CheckTTL.lastOutput
    output_max: int = 4096
    reap_after_ns: int = 0         # agent.checkReapAfter
    critical_since: float = None   # local.CheckState.CriticalTime
    create_index: int = 0
    modify_index: int = 0

    def agent_json(self):
        """structs.HealthCheck as GET /v1/agent/checks shows it."""
        return {"Node": NODE_NAME, "CheckID": self.id, "Name": self.name,
                "Status": self.status, "Notes": self.notes, "Output": self.output,
                "ServiceID": self.service_id, "ServiceName": self.service_name,
                "ServiceTags": list(self.service_tags), "Type": self.type,
                "Interval": self.interval, "Timeout": self.timeout, "ExposedPort": 0,
                "Definition": {}, "CreateIndex": 0, "ModifyIndex": 0}

    def catalog_json(self):
        """The same check as the catalog (health endpoints) shows it, with Raft indexes."""
        out = self.agent_json()
        out["CreateIndex"], out["ModifyIndex"] = self.create_index, self.modify_index
        return out


def serf_health_check(index):
    """The node check every agent has; health queries list it with service checks."""
    return {"Node": NODE_NAME, "CheckID": "serfHealth", "Name": "Serf Health Status",
            "Status": HEALTH_PASSING, "Notes": "", "Output": "Agent alive and reachable",
            "ServiceID": "", "ServiceName": "", "ServiceTags": [], "Type": "",
            "Interval": "", "Timeout": "", "ExposedPort": 0, "Definition": {},
            "CreateIndex": INITIAL_RAFT_INDEX, "ModifyIndex": index}


# ---------------------------------------------------------------------------
# Server-side state: KV store, sessions, user events
# ---------------------------------------------------------------------------

# agent/config/default.go kv_max_value_size = raft.SuggestedMaxDataSize (512 KiB).
KV_MAX_VALUE_SIZE = 512 * 1024
# agent/consul/config.go SessionTTLMin; agent/structs/structs.go SessionTTLMax,
# SessionTTLMultiplier, MaxLockDelay; agent/session_endpoint.go defaults.
SESSION_TTL_MIN_NS = 10 * NS_PER_SECOND
SESSION_TTL_MAX_NS = 24 * 3600 * NS_PER_SECOND
SESSION_TTL_MULTIPLIER = 2
MAX_LOCK_DELAY_NS = 60 * NS_PER_SECOND
DEFAULT_LOCK_DELAY_NS = 15 * NS_PER_SECOND
LOCK_DELAY_MIN_THRESHOLD = 1000      # agent/session_endpoint.go lockDelayMinThreshold
SESSION_RELEASE, SESSION_DELETE = "release", "delete"
SERF_CHECK_ID = "serfHealth"
# agent/agent.go userEventBuf (a ring of the last 256 events); agent/user_event.go
# userEventMaxVersion.
USER_EVENT_BUF = 256
USER_EVENT_VERSION = 1
# agent/event_endpoint.go EventList: no index wait given means this, and no jitter.
EVENT_MAX_QUERY_NS = 600 * NS_PER_SECOND
SERVER_RPC_ADDRESS = f"{NODE_ADDRESS}:8300"


def kv_entry_json(entry):
    """structs.DirEntry: Session is omitempty; an empty value is a nil []byte (null)."""
    out = {"LockIndex": entry["LockIndex"], "Key": entry["Key"], "Flags": entry["Flags"],
           "Value": base64.b64encode(entry["Value"]).decode() if entry["Value"] else None}
    if entry["Session"]:
        out["Session"] = entry["Session"]
    out["CreateIndex"], out["ModifyIndex"] = entry["CreateIndex"], entry["ModifyIndex"]
    return out


def _kv_equal(a, b):
    """structs.DirEntry.Equal: LockIndex, Key, Flags, Value, Session."""
    return all(a[k] == b[k] for k in ("LockIndex", "Key", "Flags", "Value", "Session"))


@dataclass
class Session:
    """structs.Session."""
    id: str
    name: str = ""
    node: str = NODE_NAME
    lock_delay_ns: int = DEFAULT_LOCK_DELAY_NS
    behavior: str = SESSION_RELEASE
    ttl: str = ""
    node_checks: list = None
    service_checks: list = None
    create_index: int = 0
    modify_index: int = 0
    deadline: float = None     # monotonic time the TTL timer (TTL * 2) fires

    def check_ids(self):
        """structs.Session.CheckIDs: node checks then service checks."""
        return list(self.node_checks or []) + [c["ID"] for c in self.service_checks or []]

    def as_json(self):
        return {"ID": self.id, "Name": self.name, "Node": self.node,
                "LockDelay": self.lock_delay_ns, "Behavior": self.behavior, "TTL": self.ttl,
                "NodeChecks": self.node_checks, "ServiceChecks": self.service_checks,
                "CreateIndex": self.create_index, "ModifyIndex": self.modify_index}


def uuid_to_uint64(text):
    """agent/event_endpoint.go uuidToUint64: the two 64-bit halves XORed."""
    low = int(text[0:8] + text[9:13] + text[14:18], 16)
    high = int(text[19:23] + text[24:36], 16)
    return low ^ high


class ServerStateMixin:
    """The server's state store (agent/consul/state/kvs.go, session.go) and the
    agent's user event ring, mixed into AgentState (same Condition, same Raft index).

    Table indexes: kv_index is maxIndexTxn("kvs", "tombstones"); session_index is the
    "sessions" table; catalog_index stands for the nodes/services/checks tables."""

    def reset_server_state(self):
        self.kv = {}                 # key -> DirEntry dict
        self.tombstones = {}         # key -> index of its delete (the graveyard)
        self.kv_index = 0
        self.sessions = {}
        self.session_index = 0
        self.session_heap = []       # (deadline, session id)
        self.lock_delays = {}        # key -> monotonic expiry (state/delay.go)
        self.events = []             # the last USER_EVENT_BUF events, oldest first
        self.event_ltime = 0
        self.event_generation = 0
        self.catalog_index = INITIAL_RAFT_INDEX
        self.restores = 0            # bumped by a snapshot restore (the abandon channel)
        self.saved_snapshot = None

    def _raft(self):
        """One Raft log entry applied: the index moves whether or not any table changed."""
        self.index += 1
        self.cond.notify_all()
        return self.index

    # -- KV -----------------------------------------------------------------

    def _kv_insert(self, entry, idx, update_session):
        """state/kvs.go kvsSetTxn: keeps CreateIndex (and Session unless told
        otherwise); an entry Equal to the stored one is not written at all, so
        neither its ModifyIndex nor the table index moves."""
        existing = self.kv.get(entry["Key"])
        entry["CreateIndex"] = existing["CreateIndex"] if existing else idx
        if not update_session:
            entry["Session"] = existing["Session"] if existing else ""
        if existing is not None and _kv_equal(existing, entry):
            entry["ModifyIndex"] = existing["ModifyIndex"]
            return
        entry["ModifyIndex"] = idx
        self.kv[entry["Key"]] = entry
        self.kv_index = max(self.kv_index, idx)

    def _kv_delete(self, key, idx):
        """state/kvs.go kvsDeleteTxn: a tombstone with the delete's index."""
        if self.kv.pop(key, None) is None:
            return
        self.tombstones[key] = idx
        self.kv_index = max(self.kv_index, idx)

    def kv_lock_delayed(self, key):
        expiry = self.lock_delays.get(key)
        return expiry is not None and expiry > time.monotonic()

    def kv_apply(self, op, key, value=b"", flags=0, cas=0, session=""):
        """agent/consul/kvs_endpoint.go Apply (after kvsPreApply) and the FSM
        (agent/consul/fsm/commands_oss.go applyKVSOperation).  Returns the bool the
        HTTP endpoint may answer; raises HTTPError(500) for the FSM's errors."""
        idx = self._raft()
        entry = {"Key": key, "Flags": flags, "Value": value, "Session": session,
                 "LockIndex": 0, "CreateIndex": 0, "ModifyIndex": cas}
        if op == "set":
            self._kv_insert(entry, idx, False)
            return True
        if op == "cas":
            existing = self.kv.get(key)       # state/kvs.go kvsSetCASTxn
            if (cas == 0 and existing is not None) or (cas != 0 and existing is None) or \
                    (existing is not None and cas != 0 and cas != existing["ModifyIndex"]):
                return False
            self._kv_insert(entry, idx, False)
            return True
        if op == "lock":                      # state/kvs.go kvsLockTxn
            if session == "":
                raise HTTPError(500, "missing session")
            if session not in self.sessions:
                raise HTTPError(500, f"invalid session {go_quote(session)}")
            existing = self.kv.get(key)
            if existing is None:
                entry["LockIndex"] = 1
            elif existing["Session"] == session:
                entry["LockIndex"] = existing["LockIndex"]
            elif existing["Session"]:
                return False
            else:
                entry["LockIndex"] = existing["LockIndex"] + 1
            self._kv_insert(entry, idx, True)
            return True
        if op == "unlock":                    # state/kvs.go kvsUnlockTxn
            if session == "":
                raise HTTPError(500, "missing session")
            existing = self.kv.get(key)
            if existing is None or existing["Session"] != session:
                return False
            entry["Session"], entry["LockIndex"] = "", existing["LockIndex"]
            self._kv_insert(entry, idx, True)
            return True
        if op == "delete":
            self._kv_delete(key, idx)
            return True
        if op == "delete-cas":                # state/kvs.go kvsDeleteCASTxn
            existing = self.kv.get(key)
            if existing is None or existing["ModifyIndex"] != cas:
                return existing is None
            self._kv_delete(key, idx)
            return True
        if op == "delete-tree":               # state/kvs.go kvsDeleteTreeTxn
            for name in [k for k in self.kv if k.startswith(key)]:
                self._kv_delete(name, idx)
            return True
        raise ValueError(op)

    def kv_get(self, key):
        """agent/consul/kvs_endpoint.go Get: the key's ModifyIndex, else the table index."""
        entry = self.kv.get(key)
        if entry is None:
            return self.kv_index or 1, None
        return entry["ModifyIndex"], entry

    def kv_list(self, prefix):
        """state/kvs.go kvsListTxn: max ModifyIndex of the entries under the prefix,
        raised by tombstones under it; the table index for "" or when nothing matched."""
        entries = [self.kv[k] for k in sorted(self.kv) if k.startswith(prefix)]
        if prefix:
            sub = max([e["ModifyIndex"] for e in entries] +
                      [i for k, i in self.tombstones.items() if k.startswith(prefix)] + [0])
        else:
            sub = self.kv_index
        return (sub or self.kv_index) or 1, entries

    def reap_tombstones(self):
        """state/kvs.go ReapTombstones (the tombstone GC after tombstone_ttl): a Raft
        write that moves the tombstones table index and forgets every tombstone."""
        idx = self._raft()
        if self.tombstones:
            self.tombstones = {}
            self.kv_index = idx
        return idx

    # -- sessions -----------------------------------------------------------

    def _arm_session(self, session):
        """agent/consul/session_ttl.go resetSessionTimer/createSessionTimer: the timer
        runs TTL * SessionTTLMultiplier; no TTL (or a zero one) arms nothing."""
        session.deadline = None
        if session.ttl in ("", "0", "0s", "0m", "0h"):
            return
        ttl = parse_go_duration(session.ttl)
        if ttl == 0:
            return
        session.deadline = time.monotonic() + ttl * SESSION_TTL_MULTIPLIER / NS_PER_SECOND
        heapq.heappush(self.session_heap, (session.deadline, session.id))

    def session_create(self, session):
        """state/session.go sessionCreateTxn (after Session.Apply's checks)."""
        idx = self._raft()
        if session.node != NODE_NAME:
            raise HTTPError(500, "Missing node registration")
        for check_id in session.check_ids():          # validateSessionChecksTxn
            if check_id == SERF_CHECK_ID:
                continue
            check = self.checks.get(check_id)
            if check is None:
                raise HTTPError(500, f"Missing check '{check_id}' registration")
            if check.status == HEALTH_CRITICAL:
                raise HTTPError(500, f"Check '{check_id}' is in {check.status} state")
        session.create_index = session.modify_index = idx
        self.sessions[session.id] = session
        self.session_index = idx
        self._arm_session(session)

    def session_destroy(self, session_id, idx=None):
        """state/session.go deleteSessionTxn: release (or delete) the held keys in the
        same write, and put the session's lock-delay (at most 60s) on each of them."""
        if idx is None:
            idx = self._raft()
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        self.session_index = max(self.session_index, idx)
        delay = min(session.lock_delay_ns, MAX_LOCK_DELAY_NS)
        now = time.monotonic()
        for key in [k for k, e in self.kv.items() if e["Session"] == session_id]:
            if session.behavior == SESSION_DELETE:
                self._kv_delete(key, idx)
            else:
                entry = dict(self.kv[key], Session="")
                self._kv_insert(entry, idx, True)
            if delay > 0:
                self.lock_delays[key] = now + delay / NS_PER_SECOND

    def invalidate_sessions_for(self, check_ids, idx):
        """state/catalog.go ensureCheckTxn (a check turning critical) and
        deleteCheckTxn: the sessions tied to those checks are destroyed."""
        for session in list(self.sessions.values()):
            if set(session.check_ids()) & set(check_ids):
                self.session_destroy(session.id, idx)

    def expire_sessions(self, now):
        """session_ttl.go invalidateSession: a Raft destroy when the timer fires."""
        heap = self.session_heap
        while heap and heap[0][0] <= now:
            deadline, session_id = heapq.heappop(heap)
            session = self.sessions.get(session_id)
            if session is not None and session.deadline == deadline:
                self.session_destroy(session_id)

    def next_session_timer(self):
        heap = self.session_heap
        while heap and (self.sessions.get(heap[0][1]) is None or
                        self.sessions[heap[0][1]].deadline != heap[0][0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else float("inf")

    # -- user events --------------------------------------------------------

    def _should_process_event(self, event):
        """agent/user_event.go shouldProcessUserEvent: the filters are regular
        expressions matched (unanchored) against this agent's node, services, tags."""
        if event["NodeFilter"] and not re.search(event["NodeFilter"], NODE_NAME):
            return False
        if event["ServiceFilter"]:
            for service in self.services.values():
                if not re.search(event["ServiceFilter"], service.id):
                    continue
                if not event["TagFilter"] or \
                        any(re.search(event["TagFilter"], tag) for tag in service.tags):
                    return True
            return False
        return True

    def fire_event(self, event):
        """agent/user_event.go UserEvent -> (gossip) -> handleEvents/ingestUserEvent."""
        if self._should_process_event(event):
            self.event_ltime += 1
            self.events.append(dict(event, LTime=self.event_ltime))
            del self.events[:-USER_EVENT_BUF]
            self.event_generation += 1
            self.cond.notify_all()

    # -- snapshot and restore (fault injection) -------------------------------

    def take_snapshot(self):
        self.saved_snapshot = {
            "index": self.index, "kv": copy.deepcopy(self.kv),
            "tombstones": dict(self.tombstones), "kv_index": self.kv_index,
            "sessions": copy.deepcopy(self.sessions), "session_index": self.session_index}
        return self.index

    def restore_snapshot(self):
        """A Raft snapshot restore (agent/consul/fsm Restore): the state store is
        replaced by the snapshot's, so every index goes back to what it was; lock
        delays are not in a snapshot; the new leader re-arms every session timer;
        blocked queries see the old store abandoned and answer at once.  The agent's
        own services and checks are kept (anti-entropy registers them again), their
        indexes clamped to the snapshot's."""
        snap = self.saved_snapshot
        if snap is None:
            raise ValueError("no snapshot taken (POST /snapshot first)")
        self.index = snap["index"]
        self.kv, self.tombstones = copy.deepcopy(snap["kv"]), dict(snap["tombstones"])
        self.kv_index, self.session_index = snap["kv_index"], snap["session_index"]
        self.sessions = copy.deepcopy(snap["sessions"])
        self.session_heap, self.lock_delays = [], {}
        for session in self.sessions.values():
            self._arm_session(session)
        self.catalog_index = min(self.catalog_index, self.index)
        for item in list(self.services.values()) + list(self.checks.values()):
            item.create_index = min(item.create_index, self.index)
            item.modify_index = min(item.modify_index, self.index)
        self.restores += 1
        self.cond.notify_all()
        return self.index

    def server_snapshot(self):
        return {"kv": {k: kv_entry_json(e) for k, e in sorted(self.kv.items())},
                "tombstones": dict(sorted(self.tombstones.items())),
                "sessions": {s: self.sessions[s].as_json() for s in sorted(self.sessions)},
                "kv_index": self.kv_index, "session_index": self.session_index,
                "catalog_index": self.catalog_index,
                "events": [e["Name"] for e in self.events]}


@dataclass
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 0
    control_port: int = 0
    unix_path: str = ""
    acl_tokens: tuple = ()
    output_max_size: int = 4096                  # check_output_max_size
    enterprise: bool = False                     # accept ns= and partition= (Consul Enterprise)
    dcsa_min_ns: int = 60 * NS_PER_SECOND        # check_deregister_interval_min
    reap_interval_ns: int = 30 * NS_PER_SECOND   # check_reap_interval
    tls_cert: str = ""                           # tls.https.cert_file
    tls_key: str = ""                            # tls.https.key_file
    tls_client_ca: str = ""                      # tls.https.ca_file + verify_incoming
    # limits.https_handshake_timeout (default 5s, agent/config/default.go).
    # agent/agent.go setupHTTPS sets a read deadline when a connection is accepted
    # and clears it when a request starts, so it bounds the TLS handshake *and*
    # the wait for the first request.
    https_handshake_timeout_ns: int = 5 * NS_PER_SECOND
    # session_ttl_min (agent/consul/config.go SessionTTLMin, default 10s).
    session_ttl_min_ns: int = SESSION_TTL_MIN_NS


class AgentState(ServerStateMixin):
    """The agent's local state (agent/local/state.go) and check runners (agent/agent.go).

    One Condition guards everything; it is notified on every change so TTL timers,
    the reaper and blocking queries wake up."""

    def __init__(self, config):
        self.config = config
        self.cond = threading.Condition()
        self.services = {}
        self.checks = {}
        self.index = INITIAL_RAFT_INDEX
        self.next_reap = 0.0
        self.reset()

    # -- bookkeeping --------------------------------------------------------

    def reset(self):
        """A dev agent restarting: no data dir, so nothing survives (agent.go persist* are
        guarded by DataDir != "")."""
        with self.cond:
            self.services, self.checks = {}, {}
            # TTL deadlines as a heap of (deadline, check id); entries whose check
            # was re-armed or removed since are skipped when they surface, so a
            # push costs O(log n) however many checks there are.
            self.ttl_heap = []
            self.index = INITIAL_RAFT_INDEX
            self.reset_server_state()
            self.next_reap = time.monotonic() + self.config.reap_interval_ns / NS_PER_SECOND
            self.cond.notify_all()

    def _bump(self):
        """A catalog write (the agent's anti-entropy sync of a service or check)."""
        self.catalog_index = self._raft()
        return self.catalog_index

    # -- checks -------------------------------------------------------------

    def _install_check(self, check, check_type, service):
        """agent/agent.go addCheck (and local/state.go addCheckLocked): a fresh CheckState
        (critical clock cleared), a new CheckTTL (full TTL, no last output)."""
        now = time.monotonic()
        if service is not None:
            check.service_name, check.service_tags = service.name, list(service.tags)
        if check_type is not None:
            limit = self.config.output_max_size
            if 0 < check_type.get("OutputMaxSize", 0) < limit:
                limit = check_type["OutputMaxSize"]
            check.output_max = limit
            check.ttl_ns = check_type.get("TTL", 0)
            check.deadline = now + check.ttl_ns / NS_PER_SECOND if check.ttl_ns > 0 else None
            if check.deadline is not None:
                heapq.heappush(self.ttl_heap, (check.deadline, check.id))
            dcsa = check_type.get("DeregisterCriticalServiceAfter", 0)
            # agent.go addCheck: values below check_deregister_interval_min are raised to it.
            check.reap_after_ns = max(dcsa, self.config.dcsa_min_ns) if dcsa > 0 else 0
        previous = self.checks.get(check.id)
        index = self._bump()
        check.create_index = previous.create_index if previous else index
        check.modify_index = index
        self.checks[check.id] = check

    def update_check(self, check_id, status, output):
        """agent/local/state.go UpdateCheck: the critical clock starts on the first
        critical update and clears on anything else, even when nothing else changes."""
        check = self.checks.get(check_id)
        if check is None:
            return
        if status == HEALTH_CRITICAL:
            if check.critical_since is None:
                check.critical_since = time.monotonic()
        else:
            check.critical_since = None
        if check.status == status and check.output == output:
            return
        check.status, check.output = status, output
        check.modify_index = self._bump()
        if status == HEALTH_CRITICAL:
            self.invalidate_sessions_for([check_id], check.modify_index)

    def push_ttl(self, check_id, status, output):
        """agent/agent.go updateTTLCheck -> checks.CheckTTL.SetStatus."""
        check = self.checks[check_id]
        if check.ttl_ns <= 0:
            raise HTTPError(500, f"CheckID {go_quote(check_id)} does not have associated TTL")
        output = truncate_output(output, check.output_max)
        self.update_check(check_id, status, output)
        check.last_output = output
        check.deadline = time.monotonic() + check.ttl_ns / NS_PER_SECOND
        # A later deadline than before: the TTL thread need not wake for it.
        heapq.heappush(self.ttl_heap, (check.deadline, check_id))

    def _ttl_entry_current(self, deadline, check_id):
        check = self.checks.get(check_id)
        return check is not None and check.deadline == deadline

    def expire_ttls(self, now):
        """agent/checks/check.go CheckTTL.run/getExpiredOutput: a one-shot timer."""
        heap = self.ttl_heap
        while heap and heap[0][0] <= now:
            deadline, check_id = heapq.heappop(heap)
            if not self._ttl_entry_current(deadline, check_id):
                continue
            check = self.checks[check_id]
            check.deadline = None
            output = "TTL expired"
            if check.last_output:
                output += " (last output before timeout follows): " + check.last_output
            self.update_check(check.id, HEALTH_CRITICAL, output)

    def next_timer(self):
        heap = self.ttl_heap
        while heap and not self._ttl_entry_current(*heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else float("inf")

    def remove_check(self, check_id):
        if self.checks.pop(check_id, None) is not None:
            self.invalidate_sessions_for([check_id], self._bump())

    # -- services -----------------------------------------------------------

    def checks_of(self, service_id):
        return [c for c in self.checks.values() if c.service_id == service_id]

    def add_service(self, service, check_types, replace_existing_checks):
        """agent/agent.go addServiceInternal."""
        # Default tagged addresses for an IP service address.
        version = _ip_version(service.address)
        for key in ((f"lan_ipv{version}", f"wan_ipv{version}") if version else ()):
            service.tagged_addresses.setdefault(key, {"Address": service.address,
                                                      "Port": service.port})
        stale = {c.id for c in self.checks_of(service.id)}
        new_checks = []
        for position, check_type in enumerate(check_types, start=1):
            check_id = check_type.get("CheckID") or f"service:{service.id}"
            if not check_type.get("CheckID") and len(check_types) > 1:
                check_id += f":{position}"
            stale.discard(check_id)
            new_checks.append((self._embedded_check(check_id, check_type, service), check_type))
        previous = self.services.get(service.id)
        index = self._bump()
        service.create_index = previous.create_index if previous else index
        service.modify_index = index
        self.services[service.id] = service
        for check, check_type in new_checks:
            self._install_check(check, check_type, service)
        if replace_existing_checks:
            for check_id in stale:
                self.remove_check(check_id)

    def _embedded_check(self, check_id, check_type, service):
        """A service's Check/Checks entry as a HealthCheck; an existing check of that ID
        keeps its Status and Output (the snapshot restore of PR #4904)."""
        check = Check(
            id=check_id, name=check_type.get("Name") or f"Service '{service.name}' check",
            status=check_type.get("Status") or HEALTH_CRITICAL, notes=check_type.get("Notes", ""),
            service_id=service.id, type=check_type_name(check_type),
            interval=_optional_duration(check_type.get("Interval", 0)),
            timeout=_optional_duration(check_type.get("Timeout", 0)))
        previous = self.checks.get(check_id)
        if previous is not None:
            check.status, check.output = previous.status, previous.output
        return check

    def add_check(self, check, check_type):
        """agent/agent.go addCheckLocked: re-registering keeps the old Status/Output
        (deferred State.UpdateCheck, which also restarts the critical clock)."""
        existing = self.checks.get(check.id)
        service = self.services.get(check.service_id) if check.service_id else None
        self._install_check(check, check_type, service)
        if existing is not None:
            self.update_check(check.id, existing.status, existing.output)

    def remove_service(self, service_id):
        """agent/agent.go removeServiceLocked: the service and all its checks."""
        self.services.pop(service_id, None)
        removed = [check.id for check in self.checks_of(service_id)]
        for check_id in removed:
            self.checks.pop(check_id, None)
        self.invalidate_sessions_for(removed, self._bump())

    def reap(self, now):
        """agent/agent.go reapServicesInternal: remove a service whose check has been
        critical longer than its DeregisterCriticalServiceAfter."""
        reaped = set()
        for check in list(self.checks.values()):
            if not check.service_id or check.service_id in reaped or check.critical_since is None:
                continue
            if check.reap_after_ns > 0 and \
                    (now - check.critical_since) * NS_PER_SECOND > check.reap_after_ns:
                reaped.add(check.service_id)
                self.remove_service(check.service_id)

    # -- maintenance --------------------------------------------------------

    def enable_maintenance(self, service_id, reason):
        """agent/agent.go EnableServiceMaintenance: a critical non-TTL check; idempotent."""
        service = self.services[service_id]
        check_id = SERVICE_MAINT_PREFIX + service_id
        if check_id in self.checks:
            return
        check = Check(id=check_id, name="Service Maintenance Mode", status=HEALTH_CRITICAL,
                      notes=reason or DEFAULT_MAINT_REASON, service_id=service.id,
                      type="maintenance")
        self._install_check(check, None, service)

    def disable_maintenance(self, service_id):
        """agent/agent.go DisableServiceMaintenance: no-op when not in maintenance."""
        self.remove_check(SERVICE_MAINT_PREFIX + service_id)

    # -- views --------------------------------------------------------------

    def snapshot(self):
        return {"services": {sid: self.services[sid].agent_json() for sid in sorted(self.services)},
                "checks": {cid: self.checks[cid].agent_json() for cid in sorted(self.checks)},
                "index": self.index, **self.server_snapshot()}


def _optional_duration(ns):
    """addServiceInternal shows Interval/Timeout only when set."""
    return format_go_duration(ns) if ns else ""


# ---------------------------------------------------------------------------
# ACLs
# ---------------------------------------------------------------------------

class HTTPError(Exception):
    """agent/http.go HTTPError: a status and a plain-text reason."""

    def __init__(self, status, reason, headers=()):
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, list(headers)


class Authorizer:
    """The resolved token: every configured secret may do anything; the anonymous
    token gets the default policy, deny."""

    def __init__(self, allow_all):
        self.allow_all = allow_all

    def allowed(self, resource, level, name):
        return self.allow_all

    def require(self, resource, level, name):
        """acl/errors.go PermissionDeniedError for the anonymous token."""
        if not self.allowed(resource, level, name):
            raise HTTPError(403, f"Permission denied: anonymous token lacks permission "
                                 f"'{resource}:{level}' on {go_quote(name)}")


class AclConfig:
    def __init__(self, tokens):
        self.set_tokens(tokens)

    def set_tokens(self, tokens):
        self.tokens = frozenset(tokens)

    @property
    def enabled(self):
        return bool(self.tokens)

    @property
    def default_policy(self):
        return "deny" if self.enabled else "allow"

    def resolve(self, token):
        """ResolveTokenAndDefaultMeta: an unknown secret is "ACL not found" (403 in wrap)."""
        if not self.enabled or token in self.tokens:
            return Authorizer(True)
        if token == "":
            return Authorizer(False)
        raise HTTPError(403, "ACL not found")


# ---------------------------------------------------------------------------
# Agent HTTP API
# ---------------------------------------------------------------------------

@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = None
    headers: list = field(default_factory=list)
    close: bool = False


TEXT_PLAIN = "text/plain; charset=utf-8"


def text_reply(status, text, headers=()):
    """Go writes error reasons with fmt.Fprint; net/http sniffs them as text/plain."""
    body = text.encode("utf-8")
    return Reply(status, body, TEXT_PLAIN if body else None, list(headers))


def json_reply(value, status=200, headers=()):
    return Reply(status, go_json(value), "application/json", list(headers))


@dataclass
class AgentRequest:
    method: str
    raw_path: str
    path: str          # percent-decoded, like Go's req.URL.Path
    raw_query: str
    query: dict
    headers: object    # http.client.HTTPMessage
    body: bytes
    aborted: object    # callable: True once the agent was stopped under this request
    no_block: bool = False   # the "no-block" fault: a blocking query answers at once

    def arg(self, key, default=""):
        """req.URL.Query().Get(key)."""
        values = self.query.get(key)
        return values[0] if values else default

    def has_arg(self, key):
        return key in self.query

    @property
    def token(self):
        """agent/http.go parseTokenInternal: ?token=, X-Consul-Token, Authorization: Bearer."""
        if self.arg("token"):
            return self.arg("token")
        if self.headers.get("X-Consul-Token"):
            return self.headers.get("X-Consul-Token")
        authorization = self.headers.get("Authorization") or ""
        parts = authorization.split(" ")
        if len(parts) > 1 and parts[0].lower() == "bearer":
            return " ".join(parts[1:]).strip().split(" ")[0].strip()
        return ""


def parse_wait(req):
    """agent/http.go parseWait -> (wait_ns or None, min_index)."""
    wait, index = None, 0
    if req.arg("wait"):
        try:
            wait = parse_go_duration(req.arg("wait"))
        except ValueError:
            raise HTTPError(400, "Invalid wait time") from None
    if req.arg("index"):
        if not (req.arg("index").isascii() and req.arg("index").isdigit()) or \
                int(req.arg("index")) >= 2 ** 64:
            raise HTTPError(400, "Invalid index")
        index = int(req.arg("index"))
    return wait, index


def blocking_deadline(wait_ns):
    """Default 5m (also for a zero or negative wait), capped at 10m, plus up to
    wait/16 of jitter (agent/consul/rpc.go RPCQueryTimeout, lib.RandomStagger)."""
    if wait_ns is None or wait_ns <= 0:
        wait_ns = DEFAULT_QUERY_WAIT_NS
    wait_ns = min(wait_ns, MAX_QUERY_WAIT_NS)
    wait_ns += random.uniform(0, wait_ns / 16)
    return time.monotonic() + wait_ns / NS_PER_SECOND


def aggregated_status(checks):
    """api/health.go HealthChecks.AggregatedStatus."""
    seen = set()
    for check in checks:
        if check["CheckID"].startswith(SERVICE_MAINT_PREFIX) or \
                check["CheckID"] == "_node_maintenance":
            seen.add("maintenance")
            continue
        if check["Status"] not in VALID_STATUSES:
            return ""
        seen.add(check["Status"])
    for status in ("maintenance", HEALTH_CRITICAL, HEALTH_WARNING):
        if status in seen:
            return status
    return HEALTH_PASSING


API_HEALTH_DEFINITION = {
    "Interval": "0s", "Timeout": "0s", "DeregisterCriticalServiceAfter": "0s", "HTTP": "",
    "Header": None, "Method": "", "Body": "", "TLSServerName": "", "TLSSkipVerify": False,
    "TCP": "", "TCPUseTLS": False, "UDP": "", "GRPC": "", "OSService": "", "GRPCUseTLS": False,
}


def api_health_check(check):
    """agent_endpoint.go agentHealthService copies a few fields into api.HealthCheck."""
    return {"Node": NODE_NAME, "CheckID": check.id, "Name": check.name, "Status": check.status,
            "Notes": check.notes, "Output": check.output, "ServiceID": check.service_id,
            "ServiceName": check.service_name, "ServiceTags": list(check.service_tags),
            "Type": "", "ExposedPort": 0, "Definition": dict(API_HEALTH_DEFINITION),
            "CreateIndex": 0, "ModifyIndex": 0}


def serf_member():
    """agent/agent_endpoint.go AgentMembers / AgentSelf: this agent's serf.Member."""
    return {"Name": NODE_NAME, "Addr": NODE_ADDRESS, "Port": 8301,
            "Tags": {"dc": DATACENTER, "role": "consul", "build": VERSION,
                     "id": NODE_ID, "vsn": "2"},
            "Status": 1, "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
            "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4}


def catalog_node(index):
    tagged = {"lan": NODE_ADDRESS, "lan_ipv4": NODE_ADDRESS, "wan": NODE_ADDRESS,
              "wan_ipv4": NODE_ADDRESS}
    return {"ID": NODE_ID, "Node": NODE_NAME, "Address": NODE_ADDRESS, "Datacenter": DATACENTER,
            "TaggedAddresses": tagged,
            "Meta": {"consul-network-segment": "", "consul-version": VERSION},
            "CreateIndex": INITIAL_RAFT_INDEX, "ModifyIndex": index}


# ---------------------------------------------------------------------------
# Query options, blocking queries and filter expressions
# ---------------------------------------------------------------------------

def query_options(req):
    """agent/http.go parse: parseDC, parseConsistency, parseWait (in that order).
    Returns (dc, wait_ns or None, min_index)."""
    if req.has_arg("stale") and req.has_arg("consistent"):
        raise HTTPError(400, "Cannot specify ?stale with ?consistent, conflicting semantics.")
    wait, index = parse_wait(req)
    return req.arg("dc") or DATACENTER, wait, index


def require_local_dc(dc):
    """agent/consul/rpc.go forwardDC: this simulator knows only its own datacenter."""
    if dc != DATACENTER:
        raise HTTPError(500, "No path to datacenter")


def query_meta_headers(req, index):
    """agent/http.go setMeta (setIndex never writes 0: it answers 1)."""
    consistency = "stale" if req.has_arg("stale") else \
        "consistent" if req.has_arg("consistent") else "leader"
    return [("X-Consul-Effective-Consistency", consistency),
            ("X-Consul-Index", str(index or 1)), ("X-Consul-KnownLeader", "true"),
            ("X-Consul-LastContact", "0"), ("X-Consul-Query-Backend", "blocking-query")]


class FilterError(Exception):
    pass


FILTER_MAP_FIELDS = {"Meta", "NodeMeta", "ServiceMeta", "TaggedAddresses",
                     "ServiceTaggedAddresses"}


_FILTER_TOKEN = re.compile(r'\s*(?:(==|!=)|(\()|(\))|"((?:[^"\\]|\\.)*)"|`([^`]*)`'
                           r'|([A-Za-z0-9_.\-\[\]/:]+))')


def _filter_tokens(text):
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _FILTER_TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterError(f"1:{pos + 1} ({pos}): no match found")
        op, lparen, rparen, dquoted, bquoted, word = match.groups()
        if op or lparen or rparen:
            tokens.append(("op", op or lparen or rparen))
        elif dquoted is not None:
            tokens.append(("str", json.loads('"' + dquoted + '"')))
        elif bquoted is not None:
            tokens.append(("str", bquoted))
        else:
            tokens.append(("word", word))
        pos = match.end()
    return tokens


class FilterExpression:
    """A subset of go-bexpr (the `filter` query parameter): ==, !=, in, not in,
    contains, not contains, matches, not matches, is empty, is not empty, and, or,
    not and parentheses, over the JSON field names of the listed objects.  A
    selector through a list matches when any element does.  Not done: index
    selectors (Meta["k"]), comparisons of non-string values by type, and go-bexpr's
    own parse error texts (the simulator's wording follows Consul's prefix)."""

    def __init__(self, text):
        self.tokens, self.pos = _filter_tokens(text), 0
        if not self.tokens:
            raise FilterError("1:1 (0): no match found, expected: \"(\", \"not\" or selector")
        self.tree = self._or()
        if self.pos != len(self.tokens):
            raise FilterError(f"unexpected {self.tokens[self.pos][1]!r}")

    def attribute_test(self, fields):
        """(attribute, predicate) when the whole expression is one == or matches on a
        plain string field named in `fields` (JSON field -> attribute): a lister can
        then test its objects without building the JSON of each.  None otherwise."""
        node = self.tree
        if node[0] not in ("==", "matches") or len(node[1]) != 1 or node[1][0] not in fields:
            return None
        value = node[2]
        if node[0] == "==":
            return fields[node[1][0]], lambda text: text == value
        pattern = re.compile(value)
        return fields[node[1][0]], lambda text: pattern.search(text) is not None

    def _peek(self, *words):
        if self.pos < len(self.tokens):
            kind, value = self.tokens[self.pos]
            if kind in ("word", "op") and value in words:
                return value
        return None

    def _take(self):
        if self.pos >= len(self.tokens):
            raise FilterError("unexpected end of expression")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _or(self):
        node = self._and()
        while self._peek("or"):
            self.pos += 1
            node = ("or", node, self._and())
        return node

    def _and(self):
        node = self._not()
        while self._peek("and"):
            self.pos += 1
            node = ("and", node, self._not())
        return node

    def _not(self):
        if self._peek("not"):
            self.pos += 1
            return ("not", self._not())
        if self._peek("("):
            self.pos += 1
            node = self._or()
            if self._take() != ("op", ")"):
                raise FilterError("expected \")\"")
            return node
        return self._match()

    def _match(self):
        first = self._take()
        negate = bool(self._peek("not")) and self.tokens[self.pos + 1:self.pos + 2] == \
            [("word", "in")]
        if negate or self._peek("in"):
            self.pos += 2 if negate else 1
            kind, selector = self._take()
            if kind != "word":
                raise FilterError("expected a selector after \"in\"")
            node = ("in", selector.split("."), first[1])
            return ("not", node) if negate else node
        if first[0] != "word":
            raise FilterError(f"expected a selector, found {first[1]!r}")
        selector = first[1].split(".")
        if self._peek("is"):
            self.pos += 1
            negate = bool(self._peek("not"))
            self.pos += 1 if negate else 0
            if self._take() != ("word", "empty"):
                raise FilterError("expected \"empty\"")
            return ("not", ("empty", selector)) if negate else ("empty", selector)
        negate = bool(self._peek("not"))
        self.pos += 1 if negate else 0
        operator = self._take()[1]
        if operator not in ("==", "!=", "contains", "matches"):
            raise FilterError(f"unknown operator {operator!r}")
        value = self._take()[1]
        if operator == "matches":
            try:
                re.compile(value)
            except re.error as exc:
                raise FilterError(f"invalid regular expression {value!r}: {exc}") from None
        node = (operator, selector, value)
        return ("not", node) if negate else node

    # -- evaluation ---------------------------------------------------------

    @staticmethod
    def _resolve(obj, path):
        """The values at a selector, lists flattened.  A key missing from a map field
        (Meta, NodeMeta, ...) is empty; a missing struct field is an invalid selector."""
        values = [obj]
        for position, part in enumerate(path):
            in_map = position > 0 and path[position - 1] in FILTER_MAP_FIELDS
            found = []
            for value in values:
                for item in (value if isinstance(value, list) else [value]):
                    if isinstance(item, dict) and part in item:
                        found.append(item[part])
                    elif in_map:
                        found.append("")
                    else:
                        raise FilterError(f"Selector {go_quote('.'.join(path))} is not valid")
            values = found
        return values

    @staticmethod
    def _text(value):
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    def _eval(self, node, obj):
        kind = node[0]
        if kind == "or":
            return self._eval(node[1], obj) or self._eval(node[2], obj)
        if kind == "and":
            return self._eval(node[1], obj) and self._eval(node[2], obj)
        if kind == "not":
            return not self._eval(node[1], obj)
        values = self._resolve(obj, node[1])
        flat = []
        for value in values:
            flat.extend(value if isinstance(value, list) else
                        list(value) if isinstance(value, dict) and kind in ("in", "contains")
                        else [value])
        if kind == "empty":
            return all(v in (None, "", [], {}) for v in values)
        if kind in ("in", "contains"):
            return any(self._text(v) == node[2] for v in flat)
        if kind == "==":
            return any(self._text(v) == node[2] for v in flat)
        if kind == "!=":
            return not any(self._text(v) == node[2] for v in flat)
        if kind == "matches":
            return any(re.search(node[2], self._text(v)) for v in flat)
        raise FilterError(kind)

    def keep(self, obj):
        return self._eval(self.tree, obj)


def apply_filter(req, items, key=None):
    """agent/structs filtering (bexpr.CreateFilter + Execute on the server); an
    expression it cannot use is the server's error, a 500."""
    text = req.arg("filter")
    if not text:
        return items
    try:
        expression = FilterExpression(text)
        if isinstance(items, dict):
            return {k: v for k, v in items.items() if expression.keep(key(k, v))}
        return [item for item in items if expression.keep(item)]
    except FilterError as exc:
        raise HTTPError(500, f"Failed to create boolean expression evaluator: {exc}") from None


class ServerAPIMixin:
    """KV, sessions, events, status, catalog and health reads (agent/kvs_endpoint.go,
    session_endpoint.go, event_endpoint.go, status_endpoint.go, catalog_endpoint.go,
    health_endpoint.go), mixed into AgentAPI."""

    SERVER_ROUTES = {
        "/v1/kv/": (["GET", "PUT", "DELETE"], "kvs_endpoint"),
        "/v1/session/create": (["PUT"], "session_create"),
        "/v1/session/destroy/": (["PUT"], "session_destroy"),
        "/v1/session/renew/": (["PUT"], "session_renew"),
        "/v1/session/info/": (["GET"], "session_info"),
        "/v1/session/node/": (["GET"], "session_node"),
        "/v1/session/list": (["GET"], "session_list"),
        "/v1/event/fire/": (["PUT"], "event_fire"),
        "/v1/event/list": (["GET"], "event_list"),
        "/v1/status/leader": (["GET"], "status_leader"),
        "/v1/status/peers": (["GET"], "status_peers"),
        "/v1/agent/members": (["GET"], "agent_members"),
        "/v1/catalog/datacenters": (["GET"], "catalog_datacenters"),
        "/v1/catalog/nodes": (["GET"], "catalog_nodes"),
        "/v1/catalog/services": (["GET"], "catalog_services"),
        "/v1/health/node/": (["GET"], "health_node"),
        "/v1/health/state/": (["GET"], "health_state"),
    }

    def server_routes(self):
        return {path: (methods, getattr(self, name))
                for path, (methods, name) in self.SERVER_ROUTES.items()}

    # -- the blocking machinery ---------------------------------------------

    def blocking_query(self, req, query):
        """agent/blockingquery Query: with index > 0, run the query until its index
        passes the one given, the wait (default 5m, at most 10m, plus up to
        wait/16) runs out, or a snapshot restore abandons the store; writes wake
        the waiters through the state's Condition.  query() -> (index, result) or
        (index, result, not_found): the ErrNotFound sentinel, which keeps a query
        whose answer stays "not found" blocking even though its index moves."""
        dc, wait, min_index = query_options(req)
        require_local_dc(dc)
        state = self.state
        deadline = blocking_deadline(wait) if min_index > 0 else None
        not_found = False
        with state.cond:
            restores = state.restores
            while True:
                index, result, *found = query()
                if found and found[0]:
                    if not_found:
                        min_index = max(min_index, index)
                    not_found = True
                if min_index == 0 or index > min_index or req.no_block or \
                        state.restores != restores or req.aborted():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                state.cond.wait(remaining)
        return index, result

    def _blocking_json(self, req, query):
        index, result = self.blocking_query(req, query)
        return json_reply(result, headers=query_meta_headers(req, index))

    # -- KV -----------------------------------------------------------------

    def kvs_endpoint(self, req, key):
        """agent/kvs_endpoint.go KVSEndpoint (the 1.17 rules: no key validation)."""
        dc, _, _ = query_options(req)
        if req.method == "GET":
            if req.has_arg("keys"):
                return self.kvs_get_keys(req, key)
            return self.kvs_get(req, key)
        if req.method == "PUT":
            return self.kvs_put(req, key, dc)
        return self.kvs_delete(req, key, dc)

    def kvs_get(self, req, key):
        """KVSGet: KVS.Get or (?recurse, a presence flag) KVS.List; 404 with the meta
        headers when nothing is there; ?raw writes the bare value."""
        recurse = req.has_arg("recurse")
        if not recurse and key == "":
            raise HTTPError(400, "Missing key name")
        authz = self.acl.resolve(req.token)

        def query():
            if recurse:
                index, entries = self.state.kv_list(key)
                entries = [e for e in entries if authz.allowed("key", "read", e["Key"])]
                return index, entries
            authz.require("key", "read", key)
            index, entry = self.state.kv_get(key)
            return index, [entry] if entry else [], entry is None
        index, entries = self.blocking_query(req, query)
        headers = query_meta_headers(req, index)
        if not entries:
            return Reply(404, headers=headers)
        if req.has_arg("raw") and not recurse:
            return Reply(200, entries[0]["Value"], "text/plain",
                         headers + [("X-Content-Type-Options", "nosniff"),
                                    ("Content-Security-Policy", "sandbox")])
        return json_reply([kv_entry_json(e) for e in entries], headers=headers)

    def kvs_get_keys(self, req, prefix):
        """KVSGetKeys and KVS.ListKeys: keys rolled up to the separator (also spelt
        ?seperator); 404 when none under a non-empty prefix, [] for the root."""
        separator = req.arg("seperator") if req.has_arg("seperator") else ""
        if req.has_arg("separator"):
            separator = req.arg("separator")
        authz = self.acl.resolve(req.token)

        def query():
            index, entries = self.state.kv_list(prefix)
            keys, seen = [], set()
            for entry in entries:
                if not authz.allowed("key", "read", entry["Key"]):
                    continue
                name = entry["Key"]
                if separator:
                    cut = name[len(prefix):].find(separator)
                    if cut > -1:
                        name = name[:len(prefix) + cut + len(separator)]
                        if name in seen:
                            continue
                        seen.add(name)
                keys.append(name)
            return index, keys
        index, keys = self.blocking_query(req, query)
        headers = query_meta_headers(req, index)
        if not keys and prefix != "":
            return Reply(404, headers=headers)
        return json_reply(keys, headers=headers)

    @staticmethod
    def _conflicting_flags(req, *flags):
        """conflictingFlags: more than one of them is a 400 naming the whole query."""
        if sum(1 for flag in flags if req.has_arg(flag)) > 1:
            encoded = urllib.parse.urlencode(sorted((k, v) for k in req.query
                                                    for v in req.query[k]))
            raise HTTPError(400, f"Conflicting flags: {encoded}\n")

    @staticmethod
    def _parse_uint(req, name):
        """strconv.ParseUint(..., 10, 64); its error is returned as is (a 500)."""
        text = req.arg(name)
        if not (text.isascii() and text.isdigit()) or int(text) >= 2 ** 64:
            reason = "value out of range" if text.isascii() and text.isdigit() \
                else "invalid syntax"
            raise HTTPError(500, f"strconv.ParseUint: parsing {go_quote(text)}: {reason}")
        return int(text)

    def kvs_put(self, req, key, dc):
        """KVSPut: flags, then cas/acquire/release (one of them), then the size limit,
        then KVS.Apply (lock-delay refuses an acquire before any Raft write)."""
        if key == "":
            raise HTTPError(400, "Missing key name")
        self._conflicting_flags(req, "cas", "acquire", "release")
        flags = self._parse_uint(req, "flags") if req.has_arg("flags") else 0
        op, cas, session = "set", 0, ""
        if req.has_arg("cas"):
            op, cas = "cas", self._parse_uint(req, "cas")
        if req.has_arg("acquire"):
            op, session = "lock", req.arg("acquire")
        if req.has_arg("release"):
            op, session = "unlock", req.arg("release")
        length = req.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > KV_MAX_VALUE_SIZE:
            raise HTTPError(413, f"Request body({int(length)} bytes) too large, max size: "
                                 f"{KV_MAX_VALUE_SIZE} bytes. See https://developer.hashicorp"
                                 ".com/docs/agent/config/config-files#kv_max_value_size.")
        require_local_dc(dc)
        authz = self.acl.resolve(req.token)
        authz.require("key", "write", key)
        with self.state.cond:
            if op == "lock" and self.state.kv_lock_delayed(key):
                return json_reply(False)      # kvsPreApply: "Rejecting lock ... lock-delay"
            result = self.state.kv_apply(op, key, req.body or b"", flags, cas, session)
        return json_reply(True if op == "set" else result)

    def kvs_delete(self, req, key, dc):
        """KVSDelete: ?recurse (an empty key then empties the store) or ?cas."""
        self._conflicting_flags(req, "recurse", "cas")
        op = "delete"
        if req.has_arg("recurse"):
            op = "delete-tree"
        elif key == "":
            raise HTTPError(400, "Missing key name")
        cas = 0
        if req.has_arg("cas"):
            op, cas = "delete-cas", self._parse_uint(req, "cas")
        require_local_dc(dc)
        authz = self.acl.resolve(req.token)
        authz.require("key", "write", key)
        with self.state.cond:
            result = self.state.kv_apply(op, key, cas=cas)
        return json_reply(result if op == "delete-cas" else True)

    # -- sessions -----------------------------------------------------------

    @staticmethod
    def _decode_session(body):
        """SessionCreate's decodeBody with FixupLockDelay and FixupChecks: keys match
        case-insensitively; LockDelay is a duration string or nanoseconds, and a value
        under 1000 means seconds; a "Checks" key replaces the default serfHealth."""
        session = Session(id="", node_checks=[SERF_CHECK_ID])
        if not body:
            return session
        try:
            raw = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPError(400, f"Request decode failed: {exc}") from None
        if not isinstance(raw, dict):
            raise HTTPError(400, "Request decode failed: json: cannot unmarshal "
                                 f"{json_kind(raw)} into Go value of type structs.Session")
        fields = {key.lower(): value for key, value in raw.items()}

        def strings(name):
            value = fields[name]
            if value is None:
                return None
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise HTTPError(400, f"Request decode failed: cannot decode {name}")
            return list(value)
        try:
            for name, attr in (("name", "name"), ("node", "node"), ("behavior", "behavior"),
                               ("ttl", "ttl")):
                if name in fields:
                    if not isinstance(fields[name], str):
                        raise HTTPError(400, f"Request decode failed: {name} must be a string")
                    setattr(session, attr, fields[name])
            if "lockdelay" in fields:
                value = fields["lockdelay"]
                if isinstance(value, str):
                    delay = parse_go_duration(value)
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    delay = int(value)
                else:
                    raise HTTPError(400, "Request decode failed: bad LockDelay")
                session.lock_delay_ns = delay * NS_PER_SECOND \
                    if delay < LOCK_DELAY_MIN_THRESHOLD else delay
        except ValueError as exc:
            raise HTTPError(400, f"Request decode failed: {exc}") from None
        checks = []
        if "checks" in fields:
            checks, session.node_checks = strings("checks") or [], None
        if "nodechecks" in fields:
            session.node_checks = strings("nodechecks")
        if "checks" in fields or "nodechecks" in fields:
            session.node_checks = list(dict.fromkeys(checks + (session.node_checks or [])))
        if "servicechecks" in fields and fields["servicechecks"] is not None:
            value = fields["servicechecks"]
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise HTTPError(400, "Request decode failed: bad ServiceChecks")
            session.service_checks = [
                {"ID": str({k.lower(): v for k, v in c.items()}.get("id", "")),
                 "Namespace": ""} for c in value]
        return session

    def session_create(self, req, _):
        """SessionCreate then Session.Apply's checks (errors there are 500s)."""
        dc = req.arg("dc") or DATACENTER
        length = req.headers.get("Content-Length")
        session = self._decode_session(req.body if length and length != "0" else b"")
        require_local_dc(dc)
        self.acl.resolve(req.token).require("session", "write", session.node)
        if session.node == "":
            raise HTTPError(500, "Must provide Node")
        if session.behavior == "":
            session.behavior = SESSION_RELEASE
        if session.behavior not in (SESSION_RELEASE, SESSION_DELETE):
            raise HTTPError(500, f"Invalid Behavior setting '{session.behavior}'")
        if session.ttl != "":
            try:
                ttl = parse_go_duration(session.ttl)
            except ValueError as exc:
                raise HTTPError(500, f"Session TTL '{session.ttl}' invalid: {exc}") from None
            ttl_min = self.state.config.session_ttl_min_ns
            if ttl != 0 and not ttl_min <= ttl <= SESSION_TTL_MAX_NS:
                raise HTTPError(500, f"Invalid Session TTL '{ttl}', must be between "
                                     f"[{format_go_duration(ttl_min)}="
                                     f"{format_go_duration(SESSION_TTL_MAX_NS)}]")
        session.id = str(uuid.uuid4())
        with self.state.cond:
            self.state.session_create(session)
        return json_reply({"ID": session.id})

    def session_destroy(self, req, session_id):
        """SessionDestroy: true, also for a session that is already gone."""
        dc = req.arg("dc") or DATACENTER
        if session_id == "":
            raise HTTPError(400, "Missing session")
        require_local_dc(dc)
        authz = self.acl.resolve(req.token)
        with self.state.cond:
            session = self.state.sessions.get(session_id)
            if session is not None:
                authz.require("session", "write", session.node)
            self.state.session_destroy(session_id)
        return json_reply(True)

    def session_renew(self, req, session_id):
        """SessionRenew / Session.Renew: restarts the TTL timer; no Raft write."""
        dc, _, _ = query_options(req)
        if session_id == "":
            raise HTTPError(400, "Missing session")
        require_local_dc(dc)
        authz = self.acl.resolve(req.token)
        with self.state.cond:
            session = self.state.sessions.get(session_id)
            if session is None:
                raise HTTPError(404, f"Session id '{session_id}' not found")
            authz.require("session", "write", session.node)
            self.state._arm_session(session)
            self.state.cond.notify_all()
            return json_reply([session.as_json()])

    def _session_read(self, req, select):
        authz = self.acl.resolve(req.token)

        def query():
            sessions = [self.state.sessions[s] for s in sorted(self.state.sessions)]
            return self.state.session_index or 1, [
                s.as_json() for s in select(sessions)
                if authz.allowed("session", "read", s.node)]
        return self._blocking_json(req, query)

    def session_info(self, req, session_id):
        if session_id == "":
            raise HTTPError(400, "Missing session")
        return self._session_read(req, lambda ss: [s for s in ss if s.id == session_id])

    def session_node(self, req, node):
        if node == "":
            raise HTTPError(400, "Missing node name")
        return self._session_read(req, lambda ss: [s for s in ss if s.node == node])

    def session_list(self, req, _):
        return self._session_read(req, lambda ss: ss)

    # -- events -------------------------------------------------------------

    def event_fire(self, req, name):
        """EventFire -> agent/user_event.go UserEvent (validateUserEvent)."""
        dc = req.arg("dc") or DATACENTER
        if name == "":
            raise HTTPError(400, "Missing name")
        event = {"ID": "", "Name": name, "Payload": None, "NodeFilter": req.arg("node"),
                 "ServiceFilter": req.arg("service"), "TagFilter": req.arg("tag"),
                 "Version": USER_EVENT_VERSION, "LTime": 0}
        length = req.headers.get("Content-Length")
        payload = req.body if length and length.isdigit() and int(length) > 0 else b""
        if event["TagFilter"] and not event["ServiceFilter"]:
            raise HTTPError(500, "Cannot provide tag filter without service filter")
        for field_name, label in (("NodeFilter", "node"), ("ServiceFilter", "service"),
                                  ("TagFilter", "tag")):
            try:
                re.compile(event[field_name])
            except re.error as exc:
                raise HTTPError(500, f"Invalid {label} filter: {exc}") from None
        if not self.acl.resolve(req.token).allowed("event", "write", name):
            raise HTTPError(403, "Permission denied")
        require_local_dc(dc)
        event["ID"] = str(uuid.uuid4())
        stored = dict(event, Payload=payload)
        with self.state.cond:
            self.state.fire_event(stored)
        event["Payload"] = base64.b64encode(payload).decode() if payload else None
        return json_reply(event)

    def event_list(self, req, _):
        """EventList: its own blocking loop; the index is uuidToUint64 of the last
        event's ID (1 when there is none) and it blocks only while that equals the
        index sent: the value is not monotonic.  No jitter; 10 minutes at most."""
        wait, min_index = parse_wait(req)
        name = req.arg("name")
        authz = self.acl.resolve(req.token)
        state = self.state
        if min_index > 0:
            wait = min(wait or EVENT_MAX_QUERY_NS, EVENT_MAX_QUERY_NS)
            deadline = time.monotonic() + wait / NS_PER_SECOND
        with state.cond:
            while True:
                events = [e for e in state.events if not name or e["Name"] == name]
                visible = [e for e in events if authz.allowed("event", "read", e["Name"])]
                index = uuid_to_uint64(visible[-1]["ID"]) if visible else 1
                if min_index == 0 or index != min_index or req.no_block or req.aborted():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                generation = state.event_generation
                while state.event_generation == generation and not req.aborted() and \
                        time.monotonic() < deadline:
                    state.cond.wait(deadline - time.monotonic())
        headers = [("X-Consul-Index", str(index))]
        if req.token and len(visible) != len(events):
            headers.append(("X-Consul-Results-Filtered-By-ACLs", "true"))
        body = [dict(e, Payload=base64.b64encode(e["Payload"]).decode() if e["Payload"]
                     else None) for e in visible]
        return json_reply(body, headers=headers)

    # -- status and agent -----------------------------------------------------

    def status_leader(self, req, _):
        """status_endpoint.go StatusLeader: the leader's Raft address."""
        require_local_dc(req.arg("dc") or DATACENTER)
        return json_reply(SERVER_RPC_ADDRESS)

    def status_peers(self, req, _):
        require_local_dc(req.arg("dc") or DATACENTER)
        return json_reply([SERVER_RPC_ADDRESS])

    def agent_members(self, req, _):
        """AgentMembers: the LAN gossip members (this agent alone), node:read each."""
        authz = self.acl.resolve(req.token)
        members = [serf_member()] if authz.allowed("node", "read", NODE_NAME) else []
        return json_reply(members)

    # -- catalog and health -------------------------------------------------

    def catalog_datacenters(self, req, _):
        """CatalogDatacenters: no blocking, no query meta."""
        return json_reply([DATACENTER])

    def _catalog_visible(self, req):
        authz = self.acl.resolve(req.token)
        return authz.allowed("node", "read", NODE_NAME), authz

    def catalog_nodes(self, req, _):
        """CatalogNodes: this agent's node."""
        node_ok, _ = self._catalog_visible(req)

        def query():
            index = self.state.catalog_index
            nodes = [catalog_node(index)] if node_ok else []
            return index, apply_filter(req, nodes)
        return self._blocking_json(req, query)

    def catalog_services(self, req, _):
        """CatalogServices: service name -> its tags (the union over instances)."""
        _, authz = self._catalog_visible(req)

        def query():
            services = {}
            for service in self._catalog_instances():
                if authz.allowed("service", "read", service.name):
                    tags = services.setdefault(service.name, [])
                    tags.extend(t for t in service.tags if t not in tags)
            result = dict(sorted(services.items()))
            if req.arg("filter"):
                instances = {s.id: s for s in self._catalog_instances()}
                kept = {s.name for s in instances.values()
                        if apply_filter(req, [self._catalog_service_entry(s)])}
                result = {k: v for k, v in result.items() if k in kept}
            return self.state.catalog_index, result
        return self._blocking_json(req, query)

    def health_node(self, req, node):
        """HealthNodeChecks: the checks of a node (serfHealth and every local check)."""
        if node == "":
            raise HTTPError(400, "Missing node name")
        node_ok, authz = self._catalog_visible(req)

        def query():
            checks = []
            if node == NODE_NAME and node_ok:
                checks = [c for c in self._all_checks() if not c["ServiceName"] or
                          authz.allowed("service", "read", c["ServiceName"])]
            return self.state.catalog_index, apply_filter(req, checks)
        return self._blocking_json(req, query)

    def health_state(self, req, state_name):
        """HealthChecksInState: any, or the checks with that status (an unknown status
        matches nothing)."""
        if state_name == "":
            raise HTTPError(400, "Missing check state")
        node_ok, authz = self._catalog_visible(req)

        def query():
            checks = [c for c in self._all_checks() if state_name == "any" or
                      c["Status"] == state_name]
            checks = [c for c in checks if (c["ServiceName"] and authz.allowed(
                "service", "read", c["ServiceName"])) or (not c["ServiceName"] and node_ok)]
            return self.state.catalog_index, apply_filter(req, checks)
        return self._blocking_json(req, query)

    def _all_checks(self):
        return [serf_health_check(self.state.catalog_index)] + [
            c.catalog_json() for c in sorted(self.state.checks.values(), key=lambda c: c.id)]


class AgentAPI(ServerAPIMixin):
    """Routing (agent/http_register.go, net/http ServeMux) and the endpoint handlers
    (agent/agent_endpoint.go, health_endpoint.go, catalog_endpoint.go)."""

    def __init__(self, state, acl):
        self.state, self.acl = state, acl
        self.routes = {
            "/v1/agent/self": (["GET"], self.agent_self),
            "/v1/agent/services": (["GET"], self.agent_services),
            "/v1/agent/service/": (["GET"], self.agent_service),
            "/v1/agent/checks": (["GET"], self.agent_checks),
            "/v1/agent/health/service/id/": (["GET"], self.agent_health_by_id),
            "/v1/agent/health/service/name/": (["GET"], self.agent_health_by_name),
            "/v1/agent/check/register": (["PUT"], self.check_register),
            "/v1/agent/check/deregister/": (["PUT"], self.check_deregister),
            "/v1/agent/check/pass/": (["PUT"], self.check_pass),
            "/v1/agent/check/warn/": (["PUT"], self.check_warn),
            "/v1/agent/check/fail/": (["PUT"], self.check_fail),
            "/v1/agent/check/update/": (["PUT"], self.check_update),
            "/v1/agent/service/register": (["PUT"], self.service_register),
            "/v1/agent/service/deregister/": (["PUT"], self.service_deregister),
            "/v1/agent/service/maintenance/": (["PUT"], self.service_maintenance),
            "/v1/health/service/": (["GET"], self.health_service),
            "/v1/health/checks/": (["GET"], self.health_checks),
            "/v1/catalog/service/": (["GET"], self.catalog_service),
            **self.server_routes(),
        }

    # -- routing ------------------------------------------------------------

    def _match(self, path):
        """ServeMux: an exact pattern, else the longest matching "/subtree/" pattern."""
        if path in self.routes and not path.endswith("/"):
            return path
        best = None
        for pattern in self.routes:
            if pattern.endswith("/") and path.startswith(pattern):
                if best is None or len(pattern) > len(best):
                    best = pattern
        return best

    def dispatch(self, method, raw_target, headers, body, aborted, no_block=False):
        raw_path, _, raw_query = raw_target.partition("?")
        try:
            path = go_unescape(raw_path, False)
        except ValueError:
            # net/http rejects a request URI it cannot parse before any handler runs.
            return Reply(400, b"400 Bad Request", TEXT_PLAIN, close=True)
        redirect = self._redirect(method, path, raw_query)
        if redirect is not None:
            return redirect
        pattern = self._match(path)
        if pattern is None:
            return self._index(path)
        methods, handler = self.routes[pattern]
        query, query_error = parse_go_query(raw_query)
        if query_error:
            # agent/http.go wrap: url.ParseQuery failing is a bare 500.
            return Reply(500)
        allow = ",".join(["OPTIONS"] + methods)
        if method == "OPTIONS":
            return Reply(200, headers=[("Allow", allow)])
        if method not in methods:
            return text_reply(405, f"method {method} not allowed", [("Allow", allow)])
        refusal = self._ce_refusal(pattern, query, headers)
        if refusal is not None:
            return text_reply(400, refusal)
        req = AgentRequest(method, raw_path, path, raw_query, query, headers, body, aborted,
                           no_block)
        try:
            return handler(req, path[len(pattern):])
        except HTTPError as err:
            return text_reply(err.status, err.reason, err.headers)

    # Endpoints that read the enterprise meta of a request (parseEntMeta and kin).
    _ENT_META_PREFIXES = ("/v1/agent/", "/v1/kv/", "/v1/health/", "/v1/catalog/",
                          "/v1/session/")

    def _ce_refusal(self, pattern, query, headers):
        """agent/http_ce.go parseEntMeta / parseEntMetaPartition: a Community Edition
        agent refuses a namespace or partition rather than ignore it."""
        if self.state.config.enterprise or not pattern.startswith(self._ENT_META_PREFIXES):
            return None
        if headers.get("X-Consul-Namespace"):
            return ('Invalid header: "X-Consul-Namespace" - Namespaces are a Consul '
                    'Enterprise feature')
        if (query.get("ns") or [""])[0]:
            return 'Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature'
        if (query.get("partition") or [""])[0]:
            return ('Invalid query parameter: "partition" - Partitions are a Consul '
                    'Enterprise feature')
        return None

    def _redirect(self, method, path, raw_query):
        """ServeMux: /tree -> /tree/ when only the subtree is registered, and unclean
        paths (//, /./, /../) -> their clean form, both with 301."""
        cleaned = go_clean_path(path)
        target = None
        if cleaned not in self.routes and cleaned + "/" in self.routes:
            target = cleaned + "/"
        elif cleaned != path:
            target = cleaned
        if target is None:
            return None
        location = urllib.parse.quote(target, safe="/:@!$&'()*+,;=-._~")
        if raw_query:
            location += "?" + raw_query
        body = f'<a href="{location}">Moved Permanently</a>.\n\n' if method == "GET" else ""
        return Reply(301, body.encode(), "text/html; charset=utf-8" if body else None,
                     [("Location", location)])

    @staticmethod
    def _index(path):
        """agent/http.go Index: unknown paths (Fprintln adds the newline)."""
        if path == "/":
            return text_reply(200, "Consul Agent: UI disabled. To enable, set "
                                   "ui_config.enabled=true in the agent configuration and restart.")
        if "/v1/" in path:
            return text_reply(404, "Invalid URL path: not a recognized HTTP API endpoint\n")
        return text_reply(404, "Invalid URL path: if attempting to use the HTTP API, ensure "
                               "the path starts with '/v1/'\n")

    # -- reads --------------------------------------------------------------

    def agent_self(self, req, _):
        """AgentSelf: needs agent:read."""
        self.acl.resolve(req.token).require("agent", "read", NODE_NAME)
        config = {"Datacenter": DATACENTER, "PrimaryDatacenter": DATACENTER,
                  "NodeName": NODE_NAME, "NodeID": NODE_ID, "Revision": "simulator",
                  "Server": True, "Version": VERSION, "BuildDate": "2023-11-01T00:00:00Z"}
        member = serf_member()
        return json_reply({"Config": config, "DebugConfig": {"DevMode": True, "DataDir": ""},
                           "Coord": {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0,
                                     "Height": 1e-05},
                           "Member": member, "Stats": {},
                           "Meta": {"consul-network-segment": "", "consul-version": VERSION}})

    def agent_services(self, req, _):
        """AgentServices: entries the token may not service:read are dropped silently."""
        authz = self.acl.resolve(req.token)
        with self.state.cond:
            services = self.state.services
            visible = {sid: services[sid].agent_json() for sid in sorted(services)
                       if authz.allowed("service", "read", services[sid].name)}
            dropped = len(visible) != len(services)
        return json_reply(visible, headers=self._filtered_header(req, dropped))

    # Check attributes by JSON field, for a filter of one comparison (ostiary's
    # read-back batches: one per 1,024 checks over every check the agent holds).
    CHECK_FILTER_FIELDS = {"CheckID": "id", "Name": "name", "Status": "status",
                           "ServiceID": "service_id", "ServiceName": "service_name",
                           "Type": "type", "Notes": "notes", "Output": "output"}

    def agent_checks(self, req, _):
        """AgentChecks: filtered by service:read (service checks) or node:read,
        then by `filter` over the check objects (agent/agent_endpoint.go
        AgentChecks: a bad expression is the 500 of bexpr.CreateFilter).  A filter
        of one comparison is tested on the checks before their JSON is built, so
        the simulator stays a fast agent for thousands of checks."""
        authz = self.acl.resolve(req.token)
        fast = None
        if req.arg("filter"):
            try:
                fast = FilterExpression(req.arg("filter")).attribute_test(
                    self.CHECK_FILTER_FIELDS)
            except FilterError:
                fast = None   # apply_filter answers it
        with self.state.cond:
            checks = self.state.checks
            readable = [cid for cid in sorted(checks)
                        if self._may_read_check(authz, checks[cid])]
            dropped = len(readable) != len(checks)
            if fast:
                attribute, test = fast
                readable = [cid for cid in readable if test(getattr(checks[cid], attribute))]
            visible = {cid: checks[cid].agent_json() for cid in readable}
        if not fast:
            visible = apply_filter(req, visible, key=lambda _cid, check: check)
        return json_reply(visible, headers=self._filtered_header(req, dropped))

    @staticmethod
    def _may_read_check(authz, check):
        if check.service_name:
            return authz.allowed("service", "read", check.service_name)
        return authz.allowed("node", "read", NODE_NAME)

    @staticmethod
    def _filtered_header(req, dropped):
        """X-Consul-Results-Filtered-By-ACLs only for a request that carried a token."""
        return [("X-Consul-Results-Filtered-By-ACLs", "true")] if req.token and dropped else []

    def agent_service(self, req, service_id):
        """AgentService: one service plus ContentHash; hash-based blocking."""
        wait, _ = parse_wait(req)
        authz = self.acl.resolve(req.token)
        wanted_hash = req.arg("hash")
        deadline = blocking_deadline(wait) if wanted_hash else None
        with self.state.cond:
            while True:
                service = self.state.services.get(service_id)
                if service is None:
                    raise HTTPError(404, f"unknown service ID: {service_id}")
                authz.require("service", "read", service.name)
                reply = service.agent_json()
                content_hash = hashlib.sha256(
                    json.dumps(reply, sort_keys=True).encode()).hexdigest()[:16]
                reply["ContentHash"] = content_hash
                if not self._keep_blocking(req, deadline, wanted_hash == content_hash):
                    return json_reply(reply, headers=[("X-Consul-ContentHash", content_hash)])

    def _keep_blocking(self, req, deadline, unchanged):
        """Wait for a change (any notify) while the answer is unchanged and time is left."""
        if deadline is None or not unchanged or req.aborted():
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.state.cond.wait(remaining)   # writes and a stop (state.reset) notify
        return True

    def agent_health_by_id(self, req, service_id):
        """AgentHealthServiceByID: 200 passing, 429 warning, 503 critical/maintenance, 404."""
        if service_id == "":
            # It returns a *HTTPError pointer, which wrap() does not recognise: 500.
            raise HTTPError(500, "Missing serviceID")
        authz = self.acl.resolve(req.token)
        with self.state.cond:
            service = self.state.services.get(service_id)
            if service is None:
                reason = f"ServiceId {service_id} not found"
                return self._health_reply(req, 404, reason, {
                    "AggregatedStatus": HEALTH_CRITICAL, "Service": None, "Checks": None})
            authz.require("service", "read", service.name)
            code, status, info = self._service_health(service)
        return self._health_reply(req, code, status, info)

    def agent_health_by_name(self, req, name):
        """AgentHealthServiceByName: the worst status over the instances of a name."""
        if name == "":
            raise HTTPError(500, "Missing service Name")
        authz = self.acl.resolve(req.token)
        authz.require("service", "read", name)
        code, status, results = 404, f"ServiceName {name} Not Found", []
        with self.state.cond:
            for service in sorted(self.state.services.values(), key=lambda s: s.id):
                if service.name != name:
                    continue
                one_code, one_status, info = self._service_health(service)
                results.append(info)
                if code == 404 or code < one_code:
                    code, status = one_code, one_status
        return self._health_reply(req, code, status, results)

    def _service_health(self, service):
        checks = [api_health_check(c) for c in self.state.checks.values()
                  if c.service_id in (service.id, "")]   # ChecksForService(id, true)
        status = aggregated_status(checks)
        code = {HEALTH_PASSING: 200, HEALTH_WARNING: 429}.get(status, 503)
        return code, status, {"AggregatedStatus": status, "Service": service.agent_json(),
                              "Checks": checks}

    @staticmethod
    def _health_reply(req, code, reason, payload):
        """CodeWithPayloadError: JSON, or just the status word for ?format=text or
        Accept: text/plain (agent_endpoint.go returnTextPlain)."""
        headers = [("X-Consul-Reason", reason)]
        format_arg = req.arg("format")
        as_text = (req.headers.get("Accept") or "").startswith("text/plain") or \
            (format_arg != "" and format_arg == "text")
        if as_text:
            return Reply(code, reason.encode(), "text/plain", headers)
        return json_reply(payload, code, headers)

    def _catalog_query(self, req, name, build):
        """Shared shape of the health/catalog reads of one service: index-based
        blocking on the catalog tables and the X-Consul-* query meta headers
        (agent/http.go parseWait, setMeta), then the `filter` expression."""
        if name == "":
            raise HTTPError(400, "Missing service name")
        authz = self.acl.resolve(req.token)

        def query():
            visible = authz.allowed("service", "read", name)
            return self.state.catalog_index, apply_filter(req, build(name) if visible else [])
        return self._blocking_json(req, query)

    def _catalog_instances(self):
        """The catalog's service instances: the agent's services and, as on every
        server agent, the "consul" service itself."""
        consul = Service(id="consul", name="consul", tags=[], port=8300,
                         meta={"raft_version": "3", "serf_protocol_current": "2",
                               "serf_protocol_max": "5", "serf_protocol_min": "1",
                               "version": VERSION.split("-")[0]},
                         create_index=INITIAL_RAFT_INDEX, modify_index=INITIAL_RAFT_INDEX)
        return [consul] + sorted(self.state.services.values(), key=lambda s: s.id)

    def _instances(self, name, tags):
        return [s for s in self._catalog_instances()
                if s.name == name and all(tag in s.tags for tag in tags)]

    def health_service(self, req, name):
        """health_endpoint.go HealthServiceNodes; ?passing drops entries with any
        non-passing check (warning too)."""
        passing = False
        if req.has_arg("passing"):
            passing = True if req.arg("passing") == "" else parse_go_bool(req.arg("passing"))
            if passing is None:
                raise HTTPError(400, "Invalid value for ?passing")
        tags = req.query.get("tag", [])

        def build(service_name):
            index = self.state.catalog_index
            node_checks = [serf_health_check(index)] + [
                c.catalog_json() for c in self.state.checks.values() if not c.service_id]
            entries = []
            for service in self._instances(service_name, tags):
                checks = node_checks + [c.catalog_json() for c in self.state.checks_of(service.id)]
                if passing and any(c["Status"] != HEALTH_PASSING for c in checks):
                    continue
                entries.append({"Node": catalog_node(index),
                                "Service": self._catalog_service_json(service),
                                "Checks": checks})
            return entries
        return self._catalog_query(req, name, build)

    @staticmethod
    def _catalog_service_json(service):
        out = service.agent_json()
        out.pop("Datacenter", None)
        out.update({"Proxy": {"Mode": "", "MeshGateway": {}, "Expose": {}}, "Connect": {},
                    "PeerName": "", "CreateIndex": service.create_index,
                    "ModifyIndex": service.modify_index})
        return out

    def health_checks(self, req, name):
        """health_endpoint.go HealthServiceChecks: the checks of a service name."""
        def build(service_name):
            return [c.catalog_json() for c in sorted(self.state.checks.values(), key=lambda c: c.id)
                    if c.service_name == service_name and c.service_id]
        return self._catalog_query(req, name, build)

    def _catalog_service_entry(self, s):
        """structs.ServiceNode as catalog_endpoint.go CatalogServiceNodes lists it."""
        node = catalog_node(self.state.catalog_index)
        return {"ID": NODE_ID, "Node": NODE_NAME, "Address": NODE_ADDRESS,
                "Datacenter": DATACENTER, "TaggedAddresses": node["TaggedAddresses"],
                "NodeMeta": node["Meta"], "ServiceKind": s.kind, "ServiceID": s.id,
                "ServiceName": s.name, "ServiceTags": list(s.tags),
                "ServiceAddress": s.address,
                "ServiceTaggedAddresses": s.agent_json().get("TaggedAddresses"),
                "ServiceWeights": s.agent_json()["Weights"],
                "ServiceMeta": dict(sorted(s.meta.items())), "ServicePort": s.port,
                "ServiceSocketPath": s.socket_path,
                "ServiceEnableTagOverride": s.enable_tag_override,
                "ServiceProxy": {"Mode": "", "MeshGateway": {}, "Expose": {}},
                "ServiceConnect": {}, "CreateIndex": s.create_index,
                "ModifyIndex": s.modify_index}

    def catalog_service(self, req, name):
        """catalog_endpoint.go CatalogServiceNodes -> []structs.ServiceNode."""
        tags = req.query.get("tag", [])

        def build(service_name):
            return [self._catalog_service_entry(s) for s in self._instances(service_name, tags)]
        return self._catalog_query(req, name, build)

    # -- service writes -----------------------------------------------------

    def service_register(self, req, _):
        """AgentRegisterService: decode, validate (in this order), vet ACLs, add."""
        try:
            definition = SERVICE_DEFINITION.decode_body(req.body)
        except DecodeError as err:
            raise HTTPError(400, f"Request decode failed: {err}") from None
        name = definition.get("Name", "")
        if name == "":
            raise HTTPError(400, "Missing service name")
        if definition.get("Address", "") in ("0.0.0.0", "::", "[::]"):   # ipaddr.IsAny
            raise HTTPError(400, "Invalid service address")
        authz = self.acl.resolve(req.token)
        if "Weights" in definition:
            problem = validate_weights(definition["Weights"])
            if problem:
                raise HTTPError(400, f"Invalid Weights: {problem}")
        problem = validate_service_meta(definition.get("Meta") or {})
        if problem:
            raise HTTPError(400, f"Invalid Service Meta: {problem}")
        check_types = self._service_check_types(definition)
        service = self._node_service(definition)
        with self.state.cond:
            # agent/acl.go vetServiceRegisterWithAuthorizer: the new and the overwritten name.
            authz.require("service", "write", service.name)
            existing = self.state.services.get(service.id)
            if existing is not None:
                authz.require("service", "write", existing.name)
            problem = validate_tagged_addresses(service.tagged_addresses)
            if problem:
                raise HTTPError(500, problem)
            self._refuse_script_checks(check_types)
            # replace-existing-checks only when present with "" or exactly "true".
            replace = req.has_arg("replace-existing-checks") and \
                req.arg("replace-existing-checks") in ("", "true")
            self.state.add_service(service, check_types, replace)
        return Reply(200)

    @staticmethod
    def _service_check_types(definition):
        """ServiceDefinition.CheckTypes (Check unless empty, then Checks), then the
        Status check of AgentRegisterService."""
        check_types = []
        candidates = []
        if not check_type_is_empty(definition.get("Check", {})):
            candidates.append(definition["Check"])
        candidates.extend(definition.get("Checks") or [])
        for check_type in candidates:
            problem = validate_check_type(check_type)
            if problem:
                raise HTTPError(400, f"Invalid check: {problem}")
            check_types.append(check_type)
        for check_type in check_types:
            if check_type.get("Status", "") not in ("",) + VALID_STATUSES:
                raise HTTPError(400, "Status for checks must 'passing', 'warning', 'critical'")
        return check_types

    @staticmethod
    def _node_service(definition):
        """ServiceDefinition.NodeService + agent.go validateService defaults."""
        name = definition["Name"]
        return Service(
            id=definition.get("ID") or name, name=name, tags=list(definition.get("Tags") or []),
            address=definition.get("Address", ""), port=definition.get("Port", 0),
            socket_path=definition.get("SocketPath", ""), meta=dict(definition.get("Meta") or {}),
            weights=dict(definition.get("Weights") or {"Passing": 1, "Warning": 1}),
            enable_tag_override=definition.get("EnableTagOverride", False),
            tagged_addresses={key: dict(value or {}) for key, value in
                              (definition.get("TaggedAddresses") or {}).items()},
            kind=definition.get("Kind", ""))

    @staticmethod
    def _refuse_script_checks(check_types):
        """agent/agent.go addCheck: remote script checks need enable_script_checks."""
        if any(check_is_script(c) for c in check_types):
            raise HTTPError(500, "Scripts are disabled on this agent from remote calls; "
                                 "to enable, configure 'enable_script_checks' to true")

    def _vet_service_update(self, authz, service_id):
        """agent/acl.go vetServiceUpdateWithAuthorizer: unknown ID is a 404."""
        service = self.state.services.get(service_id)
        if service is None:
            raise HTTPError(404, f"Unknown service ID {go_quote(service_id)}. Ensure that the "
                                 "service ID is passed, not the service name.")
        authz.require("service", "write", service.name)
        return service

    def service_deregister(self, req, service_id):
        """AgentDeregisterService: the service and all its checks."""
        authz = self.acl.resolve(req.token)
        with self.state.cond:
            self._vet_service_update(authz, service_id)
            self.state.remove_service(service_id)
        return Reply(200)

    def service_maintenance(self, req, service_id):
        """AgentServiceMaintenance."""
        if service_id == "":
            raise HTTPError(400, "Missing service ID")
        if not req.has_arg("enable"):
            raise HTTPError(400, "Missing value for enable")
        enable = parse_go_bool(req.arg("enable"))
        if enable is None:
            raise HTTPError(400, f"Invalid value for enable: {go_quote(req.arg('enable'))}")
        authz = self.acl.resolve(req.token)
        with self.state.cond:
            self._vet_service_update(authz, service_id)
            if enable:
                self.state.enable_maintenance(service_id, req.arg("reason"))
            else:
                self.state.disable_maintenance(service_id)
        return Reply(200)

    # -- check writes -------------------------------------------------------

    def check_register(self, req, _):
        """AgentRegisterCheck."""
        try:
            definition = CHECK_DEFINITION.decode_body(req.body)
        except DecodeError as err:
            raise HTTPError(400, f"Request decode failed: {err}") from None
        name = definition.get("Name", "")
        if name == "":
            raise HTTPError(400, "Missing check name")
        status = definition.get("Status", "")
        if status and status not in VALID_STATUSES:
            raise HTTPError(400, "Bad check status")
        authz = self.acl.resolve(req.token)
        problem = validate_check_type(definition)
        if problem:
            raise HTTPError(400, f"Invalid check: {problem}")
        # check_definition.go HealthCheck(): ID defaults to Name; durations always shown.
        check = Check(id=definition.get("ID") or name, name=name,
                      status=status or HEALTH_CRITICAL, notes=definition.get("Notes", ""),
                      service_id=definition.get("ServiceID", ""),
                      type=check_type_name(definition),
                      interval=format_go_duration(definition["Interval"]),
                      timeout=format_go_duration(definition["Timeout"]))
        with self.state.cond:
            if check.service_id:
                service = self.state.services.get(check.service_id)
                if service is None:
                    raise HTTPError(404, f"ServiceID {go_quote(check.service_id)} does not exist")
                check.service_name = service.name
            self._vet_check_register(authz, check)
            self._refuse_script_checks([definition])
            self.state.add_check(check, definition)
        return Reply(200)

    def _vet_check_register(self, authz, check):
        """agent/acl.go vetCheckRegisterWithAuthorizer: the check and any it overwrites."""
        self._require_check_write(authz, check.service_name)
        existing = self.state.checks.get(check.id)
        if existing is not None:
            self._require_check_write(authz, existing.service_name)

    @staticmethod
    def _require_check_write(authz, service_name):
        if service_name:
            authz.require("service", "write", service_name)
        else:
            authz.require("node", "write", NODE_NAME)

    def _vet_check_update(self, authz, check_id):
        """agent/acl.go vetCheckUpdateWithAuthorizer: unknown ID is a 404."""
        check = self.state.checks.get(check_id)
        if check is None:
            raise HTTPError(404, f"Unknown check ID {go_quote(check_id)}. Ensure that the "
                                 "check ID is passed, not the check name.")
        self._require_check_write(authz, check.service_name)

    def check_deregister(self, req, check_id):
        """AgentDeregisterCheck."""
        authz = self.acl.resolve(req.token)
        with self.state.cond:
            self._vet_check_update(authz, check_id)
            self.state.remove_check(check_id)
        return Reply(200)

    def _push(self, req, check_id, status, output):
        """agentCheckUpdate: token (403 ACL not found), 404 unknown check, 403 denied,
        500 not a TTL check."""
        authz = self.acl.resolve(req.token)
        with self.state.cond:
            self._vet_check_update(authz, check_id)
            self.state.push_ttl(check_id, status, output)
        return Reply(200)

    def check_pass(self, req, check_id):
        return self._push(req, check_id, HEALTH_PASSING, req.arg("note"))

    def check_warn(self, req, check_id):
        return self._push(req, check_id, HEALTH_WARNING, req.arg("note"))

    def check_fail(self, req, check_id):
        return self._push(req, check_id, HEALTH_CRITICAL, req.arg("note"))

    def check_update(self, req, check_id):
        """AgentCheckUpdate: Status must be exactly passing/warning/critical."""
        try:
            update = CHECK_UPDATE.decode_body(req.body)
        except DecodeError as err:
            raise HTTPError(400, f"Request decode failed: {err}") from None
        status = update.get("Status", "")
        if status not in VALID_STATUSES:
            raise HTTPError(400, f"Invalid check status: '{status}'")
        return self._push(req, check_id, status, update.get("Output", ""))


# ---------------------------------------------------------------------------
# Request log and fault injection (control API)
# ---------------------------------------------------------------------------

class RequestLog:
    """Every agent request, recorded when it arrives; status/response filled in later."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []
        self.next_seq = 1

    def record(self, received_at, method, raw_target, headers, body):
        raw_path, _, raw_query = raw_target.partition("?")
        header_map = {}
        for name, value in headers.items():
            name = name.lower()
            header_map[name] = f"{header_map[name]}, {value}" if name in header_map else value
        with self.lock:
            entry = {"seq": self.next_seq, "t": received_at, "method": method,
                     "path": raw_path, "query": raw_query, "headers": header_map,
                     "body": body.decode("utf-8", "replace"), "status": 0, "response": "",
                     "fault": None}
            self.next_seq += 1
            self.entries.append(entry)
        return entry

    def answer(self, entry, status, body, fault=None):
        with self.lock:
            entry["status"] = status
            entry["response"] = body.decode("utf-8", "replace")
            if fault:
                entry["fault"] = fault

    def mark_fault(self, entry, fault):
        with self.lock:
            entry["fault"] = fault

    def since(self, seq):
        with self.lock:
            return [dict(e) for e in self.entries if e["seq"] > seq]

    def clear(self, through=None):
        with self.lock:
            if through is None:
                self.entries = []
            else:
                self.entries = [e for e in self.entries if e["seq"] > through]


FAULT_MODES = ("none", "error", "hang", "delay", "garbage", "reset", "no-block",
               "hang-blocking", "endless")
# "endless": 200 OK with a chunked body that never ends (until the client goes).
ENDLESS_CHUNK = b"[" * 65536
# Modes that touch only blocking queries (a GET with ?index= above 0).
BLOCKING_FAULT_MODES = ("no-block", "hang-blocking")


def is_blocking_request(method, raw_query):
    if method != "GET":
        return False
    values, _ = parse_go_query(raw_query)
    index = (values.get("index") or [""])[0]
    return index.isascii() and index.isdigit() and int(index) > 0


@dataclass
class Fault:
    mode: str = "none"
    status: int = 500
    body: str = ""
    delay_ms: int = 0
    path_prefix: str = ""
    count: int = -1

    def as_json(self):
        return {"mode": self.mode, "status": self.status, "body": self.body,
                "delay_ms": self.delay_ms, "path_prefix": self.path_prefix, "count": self.count}


class FaultInjector:
    """The fault in force.  `generation` moves only when a test sets a fault, so a
    hung request is released by PUT /fault, not by its own count running out."""

    def __init__(self):
        self.cond = threading.Condition()
        self.fault = Fault()
        self.generation = 0

    def configure(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("fault must be a JSON object")
        fault = Fault()
        for key, value in spec.items():
            if not hasattr(fault, key):
                raise ValueError(f"unknown fault field {key!r}")
            setattr(fault, key, value)
        if fault.mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
        if not isinstance(fault.status, int) or not 100 <= fault.status <= 999:
            raise ValueError("status must be an HTTP status code")
        if not isinstance(fault.count, int) or not isinstance(fault.delay_ms, int):
            raise ValueError("count and delay_ms must be integers")
        with self.cond:
            self.fault = fault
            self.generation += 1
            self.cond.notify_all()
        return fault

    def current(self):
        with self.cond:
            return Fault(**self.fault.as_json())

    def take(self, method, target):
        """The fault for this request (consuming one of `count`), or None."""
        raw_path, _, raw_query = target.partition("?")
        with self.cond:
            fault = self.fault
            if fault.mode == "none" or not raw_path.startswith(fault.path_prefix) or \
                    fault.count == 0:
                return None
            if fault.mode in BLOCKING_FAULT_MODES and \
                    not is_blocking_request(method, raw_query):
                return None
            taken = Fault(**fault.as_json())
            if fault.count > 0:
                fault.count -= 1
                if fault.count == 0:
                    fault.mode = "none"
            return taken, self.generation

    def wait_released(self, generation, stopped):
        """Hold a hung request until the fault is changed or the agent stops."""
        with self.cond:
            while self.generation == generation and not stopped.is_set():
                self.cond.wait(0.1)

    def wake_all(self):
        with self.cond:
            self.cond.notify_all()


# ---------------------------------------------------------------------------
# HTTP servers
# ---------------------------------------------------------------------------

GARBAGE_BYTES = b"\x00\xff\xfeSIMULATOR GARBAGE: this is not HTTP\r\n\x1b[0m\r\n\r\n"

# net/http (*conn).serve: when the handshake fails on a first record header that
# tlsRecordHeaderLooksLikeHTTP, Go writes this on the raw connection and closes it.
# The agent's HTTPS listener is a tls.NewListener served by net/http, so a plain
# HTTP client gets this 400 from a real agent rather than a dropped connection.
PLAINTEXT_ON_HTTPS_REPLY = (b"HTTP/1.0 400 Bad Request\r\n\r\n"
                            b"Client sent an HTTP request to an HTTPS server.\n")
PLAINTEXT_HTTP_STARTS = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO")


def _no_key_password():
    # Without a callback OpenSSL would prompt on the terminal and hang a test run.
    raise OSError("the key is encrypted; give an unencrypted one")


def make_tls_context(config):
    """The HTTPS port's settings as tlsutil/config.go IncomingHTTPSConfig builds them;
    None when the agent port is plain HTTP.  Raises OSError (ssl.SSLError among them)
    for unreadable, encrypted or mismatched files."""
    if not config.tls_cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # commonTLSConfig: MinVersion = tls_min_version, whose default maps to TLS 1.2.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.tls_cert, config.tls_key, password=_no_key_password)
    # A real agent offers ["h2", "http/1.1"] and speaks HTTP/2 to a client that
    # asks for it (setupHTTPS calls http2.ConfigureServer); the simulator only has
    # HTTP/1.1, so it offers just that and an h2-capable client falls back to it.
    context.set_alpn_protocols(["http/1.1"])
    if config.tls_client_ca:
        # verify_incoming: ClientAuth = tls.RequireAndVerifyClientCert.  Without it
        # Go leaves ClientAuth at NoClientCert, which is ssl's server default.
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=config.tls_client_ca)
    return context


def describe_tls_failure(exc):
    """A short reason for GET /status: OpenSSL's reason code when there is one."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"{exc.reason}: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason
    if isinstance(exc, TimeoutError):
        return "handshake timeout"
    return str(exc) or type(exc).__name__


def send_close_notify(connection):
    """Go's tls.Conn.Close sends a close_notify alert once the handshake is done, and
    OpenSSL 3 clients report a close without one as "unexpected eof while reading".
    unwrap() on a non-blocking socket sends ours and does not wait for the reply."""
    try:
        if connection.version() is None:   # no completed handshake, nothing to close
            return
        connection.setblocking(False)
        connection.unwrap()
    except (OSError, ValueError):
        pass   # SSLWantReadError (no reply yet) is the normal outcome


class _QuietServerMixin:
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        """Clients vanishing mid-request is normal here; no tracebacks."""


class _AgentServerMixin(_QuietServerMixin):
    def shutdown_request(self, request):
        """A "reset" fault closes with SO_LINGER 0 and no FIN first, so the client sees RST
        (and on TLS no close_notify either)."""
        if self.app.listener.take_reset(request):
            self.close_request(request)
            return
        if isinstance(request, ssl.SSLSocket):
            send_close_notify(request)
        super().shutdown_request(request)


class AgentTCPServer(_AgentServerMixin, ThreadingHTTPServer):
    # Go's net.Listen uses the kernel's somaxconn backlog; socketserver's
    # default of 5 would make a client opening many connections at once (a
    # thousand watches) wait for SYN retransmissions.
    request_queue_size = 1024

    def __init__(self, address, app, tls_context=None):
        self.app = app
        self.tls_context = tls_context
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, AgentHandler)

    def get_request(self):
        """For HTTPS, wrap without handshaking: the handshake runs in the connection's
        own thread (AgentHandler.setup), so a client that connects and never speaks
        TLS holds up nobody else's accept()."""
        connection, address = super().get_request()
        if self.tls_context is None:
            return connection, address
        try:
            return self.tls_context.wrap_socket(connection, server_side=True,
                                                do_handshake_on_connect=False), address
        except (OSError, ValueError):
            connection.close()
            raise OSError("cannot set up TLS on an accepted connection") from None

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup we do not need.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class AgentUnixServer(_AgentServerMixin, socketserver.ThreadingMixIn,
                      socketserver.UnixStreamServer):
    def __init__(self, path, app):
        self.app = app
        super().__init__(path, AgentHandler)


class ControlServer(_QuietServerMixin, ThreadingHTTPServer):
    def __init__(self, address, app):
        self.app = app
        super().__init__(address, ControlHandler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class AgentListener:
    """The agent's listening sockets: stop closes them and every open connection,
    start binds the same port (and unix path) again."""

    def __init__(self, app, config):
        self.app, self.config = app, config
        self.port = config.port
        self.lock = threading.Lock()
        self.servers = []
        self.connections = set()
        self.resets = set()
        self.stopped = threading.Event()
        self.stopped.set()
        # Connections to the HTTPS port that never reached HTTP, by reason; kept
        # across restarts.
        self.tls_failures = {}
        self.connections_accepted = 0

    @property
    def listening(self):
        return not self.stopped.is_set()

    def start(self):
        with self.lock:
            if self.listening:
                return
            self.app.state.reset()
            servers = [AgentTCPServer((self.config.host, self.port), self.app,
                                      self.app.tls_context)]
            self.port = servers[0].server_address[1]
            if self.config.unix_path:
                if os.path.exists(self.config.unix_path):
                    os.unlink(self.config.unix_path)
                servers.append(AgentUnixServer(self.config.unix_path, self.app))
            self.stopped = threading.Event()
            self.servers = servers
            for server in servers:
                threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                 daemon=True).start()

    def stop(self):
        with self.lock:
            if not self.listening:
                return
            self.stopped.set()
            self.app.faults.wake_all()
            for server in self.servers:
                server.shutdown()
                server.server_close()
            self.servers = []
            if self.config.unix_path and os.path.exists(self.config.unix_path):
                os.unlink(self.config.unix_path)
            with self.app.state.cond:
                connections, self.connections = list(self.connections), set()
            for connection in connections:
                try:
                    # The plain socket's shutdown even for TLS: SSLSocket.shutdown would
                    # drop the SSL object under the handler thread still using it.
                    socket.socket.shutdown(connection, socket.SHUT_RDWR)
                except OSError:
                    pass
            self.app.state.reset()

    def track(self, connection):
        with self.app.state.cond:
            self.connections.add(connection)
            self.connections_accepted += 1

    def untrack(self, connection):
        with self.app.state.cond:
            self.connections.discard(connection)

    def mark_reset(self, connection):
        with self.app.state.cond:
            self.resets.add(connection)
        if connection.family in (socket.AF_INET, socket.AF_INET6):
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def take_reset(self, connection):
        with self.app.state.cond:
            if connection in self.resets:
                self.resets.discard(connection)
                return True
            return False

    def tls_failed(self, reason):
        with self.app.state.cond:
            self.tls_failures[reason] = self.tls_failures.get(reason, 0) + 1


class AgentHandler(BaseHTTPRequestHandler):
    """One client connection to the agent port (keep-alive, HTTP/1.1)."""
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.app = self.server.app
        self.stopped = self.app.listener.stopped
        self.app.listener.track(self.connection)
        self.first_request_deadline = None
        self.tls_ready = True
        if isinstance(self.connection, ssl.SSLSocket):
            self.first_request_deadline = time.monotonic() + \
                self.app.config.https_handshake_timeout_ns / NS_PER_SECOND
            self.tls_ready = self._tls_handshake()

    def _until_deadline(self):
        """Socket timeout for the next read before the first request (never 0, which
        would make the socket non-blocking)."""
        return max(self.first_request_deadline - time.monotonic(), 0.001)

    def _tls_handshake(self):
        """False when the connection is to be closed without a word of HTTP."""
        connection = self.connection
        try:
            connection.settimeout(self._until_deadline())
            # Peek at the plain bytes (SSLSocket.recv refuses flags) to spot plain HTTP.
            head = socket.socket.recv(connection, 5, socket.MSG_PEEK)
            if not head:
                return False   # left without a word (a port probe, or /stop): not counted
            if head in PLAINTEXT_HTTP_STARTS:
                self.app.listener.tls_failed("client sent an HTTP request to an HTTPS server")
                self._answer_plaintext()
                return False
            connection.settimeout(self._until_deadline())
            connection.do_handshake()
            connection.settimeout(self._until_deadline())   # now for the first request
            return True
        except (OSError, ValueError) as exc:
            if not self.stopped.is_set():
                self.app.listener.tls_failed(describe_tls_failure(exc))
            return False

    def _answer_plaintext(self):
        """Go's 400, written around TLS.  Whatever of the request has arrived is read
        first (Go has buffered it), so closing does not turn into an RST that could
        destroy the answer before the client reads it."""
        connection = self.connection
        try:
            connection.settimeout(0.0)
            try:
                while socket.socket.recv(connection, 65536):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
            connection.settimeout(1.0)
            socket.socket.sendall(connection, PLAINTEXT_ON_HTTPS_REPLY)
        except OSError:
            pass   # the client is gone; it has been counted already

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        self.app.listener.untrack(self.connection)

    def handle(self):
        if not self.tls_ready:
            return
        try:
            super().handle()
        except (OSError, ValueError):
            self.close_connection = True

    def log_message(self, *args):
        pass

    def handle_one_request(self):
        self.raw_requestline = self.rfile.readline(65537)
        if self.first_request_deadline is not None:
            # setupHTTPS clears the deadline once a request is under way (StateActive).
            self.first_request_deadline = None
            self.connection.settimeout(None)
        if not self.raw_requestline:
            self.close_connection = True
            return
        received_at = time.monotonic()
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            return
        if not self.parse_request():
            return
        body = self._read_body()
        if body is None or self.stopped.is_set():
            self.close_connection = True
            return
        target = self._origin_form(self.path)
        entry = self.app.log.record(received_at, self.command, target, self.headers, body)
        taken = self.app.faults.take(self.command, target)
        if taken is not None and not self._apply_fault(taken, entry):
            return
        no_block = taken is not None and taken[0].mode == "no-block"
        reply = self.app.api.dispatch(self.command, target, self.headers, body,
                                      self.stopped.is_set, no_block)
        if self.stopped.is_set():
            self.close_connection = True
            return
        self._send(reply, entry)

    @staticmethod
    def _origin_form(target):
        """An absolute-form target (proxy style) is reduced to its path and query."""
        if target.startswith(("http://", "https://")):
            parts = urllib.parse.urlsplit(target)
            return (parts.path or "/") + ("?" + parts.query if parts.query else "")
        return target

    def _read_body(self):
        """Content-Length or chunked; None when the body is malformed."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400)
            return None
        data = self.rfile.read(length) if length > 0 else b""
        return data if len(data) == length else None

    def _read_chunked(self):
        chunks = []
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";")[0].strip() or b"x", 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline(65537).strip():
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def _apply_fault(self, taken, entry):
        """Returns True when the request should still be handled normally."""
        fault, generation = taken
        self.app.log.mark_fault(entry, fault.mode)
        if fault.mode == "error":
            self._send(text_reply(fault.status, fault.body), entry)
            return False
        if fault.mode == "delay":
            if self.stopped.wait(fault.delay_ms / 1000.0):
                self.close_connection = True
                return False
            return True
        if fault.mode == "no-block":
            return True
        self.close_connection = True
        if fault.mode in ("hang", "hang-blocking"):
            self.app.faults.wait_released(generation, self.stopped)
        elif fault.mode == "garbage":
            self.wfile.write(GARBAGE_BYTES)
            self.wfile.flush()
        elif fault.mode == "reset":
            self.app.listener.mark_reset(self.connection)
        elif fault.mode == "endless":
            self._send_endless()
        return False

    def _send_endless(self):
        frame = b"%x\r\n" % len(ENDLESS_CHUNK) + ENDLESS_CHUNK + b"\r\n"
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            while not self.stopped.is_set():
                self.wfile.write(frame)
        except OSError:   # the client gave up reading: what a bounded client does
            pass

    def _send(self, reply, entry):
        headers = []
        if reply.content_type:
            headers.append(("Content-Type", reply.content_type))
        headers += reply.headers
        headers += [("X-Consul-Default-ACL-Policy", self.app.acl.default_policy),
                    ("Date", email.utils.formatdate(usegmt=True)),
                    ("Content-Length", str(len(reply.body)))]
        if reply.close or self.close_connection:
            self.close_connection = True
            headers.append(("Connection", "close"))
        try:
            phrase = http.HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "status code %d" % reply.status
        head = f"HTTP/1.1 {reply.status} {phrase}\r\n" + \
            "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
        self.app.log.answer(entry, reply.status, reply.body)
        self.wfile.write(head.encode("latin-1", "replace") + reply.body)
        self.wfile.flush()


class ControlHandler(BaseHTTPRequestHandler):
    """The tests' side door: JSON in, JSON out."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._dispatch()

    do_PUT = do_POST = do_DELETE = do_GET

    def _dispatch(self):
        app = self.server.app
        path, _, query = self.path.partition("?")
        routes = {
            "/log": {"GET": self._get_log, "DELETE": self._clear_log},
            "/state": {"GET": lambda _: (200, app.state_json())},
            "/fault": {"GET": lambda _: (200, app.faults.current().as_json()),
                       "PUT": self._set_fault, "POST": self._set_fault},
            "/acl": {"PUT": self._set_acl, "POST": self._set_acl},
            "/stop": {"POST": lambda _: app.control_stop(), "PUT": lambda _: app.control_stop()},
            "/start": {"POST": lambda _: app.control_start(),
                       "PUT": lambda _: app.control_start()},
            "/restart": {"POST": lambda _: app.control_restart(),
                         "PUT": lambda _: app.control_restart()},
            "/quit": {"POST": lambda _: app.control_quit(), "PUT": lambda _: app.control_quit()},
            "/status": {"GET": lambda _: (200, app.status_json())},
            "/snapshot": {"POST": lambda _: app.control_snapshot(),
                          "PUT": lambda _: app.control_snapshot()},
            "/restore": {"POST": lambda _: app.control_restore(),
                         "PUT": lambda _: app.control_restore()},
            "/reap-tombstones": {"POST": lambda _: app.control_reap(),
                                 "PUT": lambda _: app.control_reap()},
        }
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if path not in routes:
            status, payload = 404, {"error": f"no control endpoint {path}"}
        elif self.command not in routes[path]:
            status, payload = 405, {"error": f"{self.command} not allowed on {path}"}
        else:
            try:
                status, payload = routes[path][self.command]((query, body))
            except ValueError as exc:
                status, payload = 400, {"error": str(exc)}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if path == "/quit" and status == 200:
            app.exit_requested.set()   # only once the answer is out

    def _get_log(self, request):
        query, _ = request
        since = urllib.parse.parse_qs(query).get("since", ["0"])[0]
        if not since.lstrip("-").isdigit():
            raise ValueError("since must be an integer")
        return 200, self.server.app.log.since(int(since))

    def _clear_log(self, request):
        query, _ = request
        through = urllib.parse.parse_qs(query).get("through", [None])[0]
        if through is not None and not through.lstrip("-").isdigit():
            raise ValueError("through must be an integer")
        self.server.app.log.clear(None if through is None else int(through))
        return 200, {"ok": True}

    @staticmethod
    def _json_body(body):
        try:
            return json.loads(body.decode() or "{}")
        except ValueError:
            raise ValueError("body is not JSON") from None

    def _set_fault(self, request):
        fault = self.server.app.faults.configure(self._json_body(request[1]))
        return 200, {"ok": True, "fault": fault.as_json()}

    def _set_acl(self, request):
        spec = self._json_body(request[1])
        tokens = spec.get("tokens", []) if isinstance(spec, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
            raise ValueError("tokens must be a list of non-empty strings")
        self.server.app.acl.set_tokens(tokens)
        return 200, {"ok": True, "acl": self.server.app.acl.enabled}


# ---------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------

class SimApp:
    def __init__(self, config):
        self.config = config
        self.tls_context = make_tls_context(config)   # before the listener uses it
        self.state = AgentState(config)
        self.acl = AclConfig(config.acl_tokens)
        self.api = AgentAPI(self.state, self.acl)
        self.log = RequestLog()
        self.faults = FaultInjector()
        self.listener = AgentListener(self, config)
        self.exit_requested = threading.Event()
        self.signalled = False   # set by the signal handler, which must not take locks
        self.control = None

    def state_json(self):
        with self.state.cond:
            snapshot = self.state.snapshot()
        snapshot["listening"] = self.listener.listening
        return snapshot

    def status_json(self):
        with self.state.cond:
            failures = dict(self.listener.tls_failures)
            accepted = self.listener.connections_accepted
        return {"listening": self.listener.listening, "agent_port": self.listener.port,
                "control_port": self.control.server_address[1] if self.control else 0,
                "pid": os.getpid(), "tls": self.tls_context is not None,
                "tls_client_auth": bool(self.config.tls_client_ca), "tls_failures": failures,
                "connections_accepted": accepted}

    def control_stop(self):
        self.listener.stop()
        return 200, {"ok": True, "listening": False}

    def control_start(self):
        try:
            self.listener.start()
        except OSError as exc:
            return 500, {"error": f"cannot listen again: {exc}"}
        return 200, {"ok": True, "listening": True, "agent_port": self.listener.port}

    def control_restart(self):
        self.listener.stop()
        return self.control_start()

    @staticmethod
    def control_quit():
        return 200, {"ok": True}

    def control_snapshot(self):
        with self.state.cond:
            return 200, {"ok": True, "index": self.state.take_snapshot()}

    def control_restore(self):
        with self.state.cond:
            return 200, {"ok": True, "index": self.state.restore_snapshot()}

    def control_reap(self):
        with self.state.cond:
            return 200, {"ok": True, "index": self.state.reap_tombstones()}

    def housekeeping(self):
        """TTL timers (agent/checks/check.go CheckTTL), session TTL timers
        (agent/consul/session_ttl.go) and the reaper
        (agent/agent.go reapServices: every check_reap_interval)."""
        state = self.state
        interval = self.config.reap_interval_ns / NS_PER_SECOND
        with state.cond:
            while not self.exit_requested.is_set():
                now = time.monotonic()
                state.expire_ttls(now)
                state.expire_sessions(now)
                if now >= state.next_reap:
                    state.reap(now)
                    state.next_reap = now + interval
                wake = min(state.next_timer(), state.next_reap, state.next_session_timer())
                state.cond.wait(max(0.001, min(wake - time.monotonic(), 0.5)))


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Consul agent simulator for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--unix", default="")
    parser.add_argument("--acl-token", action="append", default=[])
    parser.add_argument("--output-max-size", type=int, default=4096)
    parser.add_argument("--enterprise", action="store_true",
                        help="accept ns= and partition= as Consul Enterprise does (a CE "
                             "agent answers 400)")
    parser.add_argument("--dcsa-min", default="60s")
    parser.add_argument("--reap-interval", default="30s")
    parser.add_argument("--ready-file", default="")
    parser.add_argument("--session-ttl-min", default="10s", metavar="DURATION",
                        help="session_ttl_min: the shortest session TTL accepted")
    parser.add_argument("--tls-cert", default="", metavar="FILE",
                        help="serve the agent TCP port over HTTPS with this certificate")
    parser.add_argument("--tls-key", default="", metavar="FILE",
                        help="the private key of --tls-cert")
    parser.add_argument("--tls-client-ca", default="", metavar="FILE",
                        help="require client certificates signed by this CA "
                             "(verify_incoming)")
    parser.add_argument("--https-handshake-timeout", default="5s", metavar="DURATION",
                        help="limits.https_handshake_timeout")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        # tlsutil: "VerifyIncoming set, and no Cert/Key pair provided!"
        parser.error("--tls-client-ca needs --tls-cert and --tls-key")
    try:
        dcsa_min, reap = parse_go_duration(args.dcsa_min), parse_go_duration(args.reap_interval)
        handshake = parse_go_duration(args.https_handshake_timeout)
        session_ttl_min = parse_go_duration(args.session_ttl_min)
    except ValueError as exc:
        parser.error(str(exc))
    if reap <= 0:
        parser.error("--reap-interval must be > 0")
    if handshake <= 0:
        parser.error("--https-handshake-timeout must be > 0")
    return args, SimConfig(host=args.host, port=args.port, control_port=args.control_port,
                           unix_path=args.unix, acl_tokens=tuple(args.acl_token),
                           output_max_size=args.output_max_size, dcsa_min_ns=dcsa_min,
                           enterprise=args.enterprise,
                           reap_interval_ns=reap, tls_cert=args.tls_cert,
                           tls_key=args.tls_key, tls_client_ca=args.tls_client_ca,
                           https_handshake_timeout_ns=handshake,
                           session_ttl_min_ns=session_ttl_min)


def announce(ready, ready_file):
    line = json.dumps(ready)
    if ready_file:
        temporary = f"{ready_file}.tmp.{os.getpid()}"
        with open(temporary, "w") as handle:
            handle.write(line + "\n")
        os.replace(temporary, ready_file)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv=None):
    args, config = parse_args(argv)
    try:
        app = SimApp(config)
    except OSError as exc:   # ssl.SSLError included: unreadable or mismatched TLS files
        sys.stderr.write(f"consul_sim.py: cannot load the TLS files: {exc}\n")
        return 2
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: setattr(app, "signalled", True))
    app.listener.start()
    app.control = ControlServer(("127.0.0.1", config.control_port), app)
    threading.Thread(target=app.control.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    threading.Thread(target=app.housekeeping, daemon=True).start()
    announce({"agent_port": app.listener.port, "control_port": app.control.server_address[1],
              "pid": os.getpid(), "tls": app.tls_context is not None}, args.ready_file)
    while not (app.signalled or app.exit_requested.is_set()):
        time.sleep(0.02)  # poll the exit flags until a signal or /quit sets one
    app.exit_requested.set()
    app.listener.stop()
    app.control.shutdown()
    app.control.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
