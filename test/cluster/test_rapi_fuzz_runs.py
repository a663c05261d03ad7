"""ganeti-rapi against bad input, on a one-node virtual cluster with one
diskless instance (Debian's noop OS).

First targeted requests: malformed JSON, bodies of the wrong shape, unknown
parameters, wrong types, a body over the limit, a wrong Content-Type, path
traversal and odd names in paths, bad query values, unknown methods, missing
and wrong credentials, malformed HTTP. Each gets its exact status and a clear
JSON message, and afterwards the configuration is unchanged and no job was
submitted.

Then a seeded fuzz run: GANETI_RAPI_FUZZ_REQUESTS (10,000) random requests
over a few keep-alive HTTPS connections, built from the resources' path table
with real, mutated and hostile names, random query strings and random bodies
(JSON of random shape, invalid JSON, binary garbage, sizes up to a bit over
the limit), anonymous, with a read user, with bad credentials, and with the
write user but only bodies that can never be valid. Every answer must be
well-formed JSON with an expected status, never 500; afterwards the daemon is the same process, its memory is
bounded, its threads and sockets are back to what they were, it logged no
error, the configuration is unchanged and no job was submitted.
GANETI_RAPI_FUZZ_SEED repeats a run.
"""

import base64
import html
import http.client
import json
import os
import random
import socket
import ssl
import time
import urllib.parse
from collections import Counter

import pytest

import vcluster
from ganeti.rapi import resources, server

NOOP = "/usr/share/ganeti/os/noop"
pytestmark = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")

INSTANCE = "fuzz1.example.com"
USERS = "admin adminpw write\nviewer viewpw read\n"
PORT = 5080
REQUESTS = int(os.environ.get("GANETI_RAPI_FUZZ_REQUESTS", "10000"))
SEED = int(os.environ.get("GANETI_RAPI_FUZZ_SEED", str(int(time.time()))))
CONNECTIONS = 4
WARM_UP = 500
# RSS bounds of the daemon over the run. A request holds at most its body
# (1 MiB, read whole) and what it parses to, one request at a time per
# connection; the allocator keeps some freed 1 MiB buffers around. Measured
# here: 26 MiB idle, 30 MiB after the warm-up, 32-40 MiB after 10,000
# requests, never above 52 MiB in 100,000 (with small bodies only: +0.5 MiB
# in 50,000). A leak of 4 KiB per request would break the first bound.
RSS_GROWTH_MAX = 32 * 1024          # KiB over the RSS after the warm-up
RSS_CAP = 256 * 1024                # KiB, absolute

# the answers a request may get
ALLOWED = {200, 400, 401, 403, 404, 411, 413, 414, 415, 501, 503}
# the only answers that are not JSON: the web UI's files and the metrics
NOT_JSON = ("/ui", "/metrics")


def auth(user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return {"Authorization": "Basic " + token}


ADMIN = auth("admin", "adminpw")
VIEWER = auth("viewer", "viewpw")
WRONG = "Wrong user name or password"
BAD_CREDENTIALS = [  # and the message of the 401 they get
    (auth("admin", "wrong"), WRONG), (auth("ghost", "adminpw"), WRONG),
    (auth("viewer", ""), WRONG), ({"Authorization": "Basic !!!"}, "Invalid Basic credentials"),
    ({"Authorization": "Basic "}, WRONG), ({"Authorization": "Bearer abc"},
                                           "Authentication required"),
    ({"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()},
     "Invalid Basic credentials"),
    ({"Authorization": "basic " + base64.b64encode(b"admin").decode()}, WRONG)]


@pytest.fixture(scope="module")
def vc():
    with vcluster.started(1) as vc:
        m = vc.master
        m.run("gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
              "--no-ip-check", "-t", "diskless", "--no-nics", "-B", "maxmem=128,minmem=128",
              INSTANCE, check=True)
        m.write_rapi_users(USERS)
        assert m.pid("ganeti-rapi")
        yield vc


def tls_context(vc):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False          # rapi.pem names the cluster, we dial the node
    ctx.load_verify_locations(vc.master.path("/var/lib/ganeti/rapi.pem"))
    return ctx


def connect(vc):
    return http.client.HTTPSConnection(vc.master.ip, PORT, context=tls_context(vc),
                                       timeout=60)


def send(conn, method, path, body=None, headers=None, ctype="application/json"):
    """(status, headers, body bytes) of one request on ``conn`` (kept alive)."""
    headers = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    if body is not None and ctype is not None:
        headers["Content-Type"] = ctype
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, resp.headers, data


def request(vc, method, path, body=None, headers=None, ctype="application/json"):
    """(status, unescaped message or decoded body, headers) on a new connection."""
    conn = connect(vc)
    try:
        status, resp_headers, data = send(conn, method, path, body, headers, ctype)
    finally:
        conn.close()
    assert resp_headers["Content-Type"] == "application/json"
    if method == "HEAD":
        return status, None, resp_headers
    payload = json.loads(data)
    if status >= 400:
        assert payload["code"] == status and payload["explain"], payload
        return status, html.unescape(payload["message"]), resp_headers
    return status, payload, resp_headers


def raw_request(vc, data):
    """(status, unescaped message) of raw bytes sent on a new TLS connection."""
    sock = tls_context(vc).wrap_socket(socket.create_connection((vc.master.ip, PORT),
                                                                timeout=60))
    try:
        sock.sendall(data)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        payload = json.loads(resp.read())
        assert resp.headers["Content-Type"] == "application/json"
        assert payload["code"] == resp.status
        return resp.status, html.unescape(payload["message"])
    finally:
        sock.close()


def state(vc):
    """What must not change: the master's configuration (its file, its serial,
    as the commands show it; no live data) and the number of jobs."""
    m = vc.master
    with open(m.path("/var/lib/ganeti/config.data"), "rb") as fd:
        config = fd.read()
    jobs = m.run("gnt-job", "list", "--no-headers", check=True).stdout.splitlines()
    return {"config": config, "serial_no": json.loads(config)["serial_no"],
            "info": m.run("gnt-cluster", "info", check=True).stdout,
            "instances": m.run("gnt-instance", "list", "--no-headers", "-o",
                               "name,admin_state,pnode,be/maxmem,tags", check=True).stdout,
            "jobs": len(jobs)}


def assert_unchanged(vc, before, what=""):
    after = state(vc)
    for key in ("jobs", "serial_no", "instances", "info", "config"):
        assert after[key] == before[key], ("%s changed" % key, before[key], after[key], what)


# --- targeted cases ------------------------------------------------------------

MODIFY = "/2/instances/%s/modify" % INSTANCE
NAME_RULE = "(a name is at most 255 letters, digits, '.', '_' and '-')"


def test_bad_bodies_get_400_and_change_nothing(vc):
    before = state(vc)
    cases = [
        # malformed JSON
        (MODIFY, b'{"beparams": ', 400, "Unable to parse JSON data"),
        (MODIFY, b"\xff\xfe\x00garbage", 400, "Unable to parse JSON data"),
        (MODIFY, b'{"beparams": {"maxmem": NaN}}', 400, "Unable to parse JSON data"),
        (MODIFY, b"[" * 5000 + b"]" * 5000, 400, "Unable to parse JSON data"),
        # not an object where one is needed
        (MODIFY, [1, 2], 400, "Body contents: Type is 'list', but 'dict' is expected"),
        (MODIFY, "beparams", 400, "Body contents: Type is 'str', but 'dict' is expected"),
        (MODIFY, 7, 400, "Body contents: Type is 'int', but 'dict' is expected"),
        ("/2/nodes/%s/role" % vc.master.name, {"role": "drained"}, 400,
         "Body contents: Type is 'dict', but 'str' is expected"),
        # unknown parameters
        (MODIFY, {"no_such_param": 1, "beparams": {"maxmem": 256}}, 400,
         "Invalid body parameters: Unknown parameter(s) for OP_INSTANCE_SET_PARAMS:"
         " no_such_param"),
        ("/2/instances/%s/reinstall" % INSTANCE, {"os": "noop", "bogus": 1}, 400,
         "Invalid body parameters: unknown bogus"),
        # wrong types
        (MODIFY, {"beparams": "maxmem=256"}, 400,
         "Invalid body parameters: Parameter 'OP_INSTANCE_SET_PARAMS.beparams' fails"
         " validation: expected dictionary, got 'maxmem=256'"),
        ("/2/instances/%s/disk/0/grow" % INSTANCE, {"amount": "1024"}, 400,
         "Invalid body parameters: Parameter 'OP_INSTANCE_GROW_DISK.amount' fails"
         " validation: expected non-negative integer, got '1024'"),
        ("/2/instances/%s/shutdown" % INSTANCE, {"timeout": "soon"}, 400,
         "Parameter 'OP_INSTANCE_SHUTDOWN.timeout' fails validation"),
        # what the path gives cannot come from the body
        (MODIFY, {"instance_name": "other"}, 400,
         "Can't overwrite static parameters instance_name"),
    ]
    for path, body, status, message in cases:
        method = "POST" if path.endswith(("/grow", "/reinstall")) else "PUT"
        got = request(vc, method, path, body, ADMIN)[:2]
        assert got[0] == status and message in got[1], (path, body, got)
    # a body over the limit, and one just at it (only spaces: not JSON)
    too_big = b" " * (server.MAX_BODY_SIZE + 1)
    assert request(vc, "PUT", MODIFY, too_big, ADMIN)[:2] == (
        400, "Request body too large (%d bytes; at most %d)"
        % (server.MAX_BODY_SIZE + 1, server.MAX_BODY_SIZE))
    assert request(vc, "PUT", MODIFY, b" " * server.MAX_BODY_SIZE, ADMIN)[:2] == (
        400, "Unable to parse JSON data")
    # a valid body, but not JSON by its Content-Type
    body = {"beparams": {"maxmem": 256}}
    for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
        assert request(vc, "PUT", MODIFY, body, ADMIN, ctype=ctype)[:2] == (
            415, "Unsupported Media Type"), ctype
    assert_unchanged(vc, before)


def test_odd_names_in_paths_get_400_and_change_nothing(vc):
    before = state(vc)
    long_name = "a" * 256
    cases = [
        ("/2/instances/..%2F..%2Fetc%2Fpasswd", "'../../etc/passwd'"),
        ("/2/instances/%2e%2e", "'..'"),
        ("/2/instances/..", "'..'"),
        ("/2/instances/%s%%2F..%%2F.." % INSTANCE, "'%s/../..'" % INSTANCE),
        ("/2/instances/%00", "'\\x00'"),
        ("/2/instances/%s%%00x" % INSTANCE, "'%s\\x00x'" % INSTANCE),
        ("/2/instances/" + long_name, repr(long_name[:60] + "...")),
        ("/2/instances/%C3%A9t%C3%A9", "'été'"),
        ("/2/instances/%FF", "'\ufffd'"),
        ("/2/instances/a%20b", "'a b'"),
        ("/2/instances/%252e%252e", "'%2e%2e'"),
        ("/2/jobs/%C2%B2", "'²'"),                     # a digit to str.isdigit()
        ("/2/jobs/" + "9" * 5000, repr("9" * 60 + "...")),
        ("/2/instances/%s/disk/%%D9%%A3/grow" % INSTANCE, "'٣'"),   # a digit to \d
    ]
    for path, shown in cases:
        for method, headers in (("GET", None), ("DELETE", ADMIN), ("PUT", ADMIN)):
            got = request(vc, method, path, None if method == "GET" else {}, headers)[:2]
            assert got == (400, "Invalid name in the path: %s %s" % (shown, NAME_RULE)), (
                method, path, got)
    # the longest names still reach the resource, a longer URL does not
    name = "b" * 255
    assert request(vc, "GET", "/2/instances/" + name)[:2] == (
        404, "Instance name %s not found" % name)
    assert request(vc, "GET", "/2/instances/" + "a" * 9000, headers=ADMIN)[:2] == (
        414, "Request-URI Too Long")
    assert request(vc, "DELETE", "/2/instances/" + "a" * 9000, {}, ADMIN)[:2] == (
        414, "Request-URI Too Long")
    assert request(vc, "GET", "/2/nosuch/%s" % INSTANCE)[:2] == (404, "Not Found")
    assert_unchanged(vc, before)


def test_bad_query_values_get_400_and_change_nothing(vc):
    before = state(vc)
    assert request(vc, "GET", "/2/instances?bulk=abc")[:2] == (
        400, "Invalid value for the 'bulk' parameter ('abc'): an integer is expected")
    assert request(vc, "GET", "/2/instances?bulk=1&lock=1")[:2] == (
        400, "Sync queries are not allowed")
    assert request(vc, "PUT", MODIFY + "?dry-run=x", {"beparams": {"maxmem": 256}},
                   ADMIN)[:2] == (400, "Invalid value for the 'dry-run' parameter ('x'):"
                                  " an integer is expected")
    assert request(vc, "PUT", "/2/instances/%s/startup?force=yes" % INSTANCE, None,
                   ADMIN)[:2] == (400, "Invalid value for the 'force' parameter ('yes'):"
                                  " an integer is expected")
    assert request(vc, "PUT", MODIFY + "?reason=%FF", {"beparams": {"maxmem": 256}},
                   ADMIN)[:2] == (400, "Invalid query string")
    assert request(vc, "GET", "/2/nodes/%s/storage" % vc.master.name, None,
                   ADMIN)[:2] == (400, "Missing the required 'output_fields' parameter")
    assert_unchanged(vc, before)


def test_unknown_methods_get_501(vc):
    before = state(vc)
    for method, path in (("PATCH", "/2/info"), ("DELETE", "/2/info"), ("POST", "/version"),
                         ("OPTIONS", "/2/instances"), ("PATCH", MODIFY)):
        assert request(vc, method, path, None, ADMIN)[:2] == (
            501, "Method %s is unsupported for path %s" % (method, path))
    status, payload, headers = request(vc, "HEAD", "/2/info")
    assert (status, payload) == (501, None) and int(headers["Content-Length"]) > 0
    for method in ("FOO", "get", "M-SEARCH"):
        assert request(vc, method, "/2/info", b"{}", ADMIN)[:2] == (
            501, "Method %s is unsupported for path /2/info" % method)
    assert_unchanged(vc, before)


def test_credentials_are_checked_first(vc):
    before = state(vc)
    body = {"beparams": {"maxmem": 256}}
    status, message, headers = request(vc, "PUT", MODIFY, body)
    assert (status, message) == (401, "Authentication required")
    assert headers["WWW-Authenticate"] == 'Basic realm="Ganeti Remote API"'
    for credentials, expected in BAD_CREDENTIALS:
        status, message, headers = request(vc, "PUT", MODIFY, body, credentials)
        assert (status, message) == (401, expected), credentials
        assert "WWW-Authenticate" in headers
    assert request(vc, "PUT", MODIFY, body, VIEWER)[:2] == (
        403, "User viewer may not do this (needs write)")
    # refused before the body is looked at
    assert request(vc, "PUT", MODIFY, b"{not json", VIEWER)[:2] == (
        403, "User viewer may not do this (needs write)")
    assert request(vc, "GET", "/2/query/instance?fields=name")[:2] == (
        401, "Authentication required")
    assert_unchanged(vc, before)


def test_malformed_http_is_answered_in_json(vc):
    before = state(vc)
    host = b"Host: x\r\n"
    assert raw_request(vc, b"GARBAGE\r\n\r\n") == (
        400, "Bad request syntax ('GARBAGE')")
    assert raw_request(vc, b"GET /2/info HTTP/9.9\r\n\r\n") == (
        505, "Invalid HTTP version (9.9)")
    long_header = b"X-Long: " + b"x" * 70000 + b"\r\n"
    assert raw_request(vc, b"GET /2/info HTTP/1.1\r\n" + long_header + b"\r\n") == (
        431, "Line too long")
    assert raw_request(vc, b"GET /2/info HTTP/1.1\r\n" + b"X: y\r\n" * 150 + b"\r\n") == (
        431, "Too many headers")
    assert raw_request(vc, b"GET http://[/2/info HTTP/1.1\r\n" + host + b"\r\n") == (
        400, "Invalid URL")
    assert raw_request(vc, b"PUT %s HTTP/1.1\r\n" % MODIFY.encode() + host
                       + b"Content-Length: -5\r\n\r\n") == (400, "Invalid Content-Length")
    assert raw_request(vc, b"PUT %s HTTP/1.1\r\n" % MODIFY.encode() + host
                       + b"Content-Length: 1e3\r\n\r\n") == (400, "Invalid Content-Length")
    # (the bodies below are not sent: the server does not read them, and
    # closing a connection with unread data resets it, answer and all)
    assert raw_request(vc, b"PUT %s HTTP/1.1\r\n" % MODIFY.encode() + host
                       + b"Transfer-Encoding: chunked\r\n\r\n") == (
        411, "A Content-Length is required")
    # a body that is announced larger than the largest the server reads at all
    assert raw_request(vc, b"PUT %s HTTP/1.1\r\n" % MODIFY.encode() + host
                       + b"Content-Length: %d\r\n\r\n" % (server.MAX_DISCARD_SIZE + 1)) == (
        400, "Request body too large (%d bytes; at most %d)"
        % (server.MAX_DISCARD_SIZE + 1, server.MAX_BODY_SIZE))
    assert_unchanged(vc, before)


def test_a_refused_request_leaves_the_connection_usable(vc):
    """The body of a refused request is read (or the connection closed), so
    the next request on a kept-alive connection is understood."""
    conn = connect(vc)
    try:
        for method, path, body, headers in (
                ("PUT", MODIFY, b"x" * 5000, VIEWER),                    # 403
                ("PUT", MODIFY, b"x" * 5000, None),                      # 401
                ("PATCH", "/2/info", b"x" * 5000, None),                 # 501
                ("FOO", "/2/info", b"x" * 5000, None),                   # 501
                ("GET", "/2/instances/" + "a" * 9000, b"x" * 5000, None),  # 414
                ("GET", "/2/instances/%00", b"x" * 5000, None),          # 400
                ("PUT", MODIFY, b"x" * (server.MAX_BODY_SIZE + 1), ADMIN)):  # 400, closed
            status = send(conn, method, path, body, headers)[0]
            assert status >= 400, (method, path)
            status, _, data = send(conn, "GET", "/2/info")
            assert status == 200 and json.loads(data)["name"] == vcluster.CLUSTER_NAME, (
                method, path)
    finally:
        conn.close()


def test_query_and_filter_bodies_of_wrong_types_get_400(vc):
    before = state(vc)
    for path, method, body in (
            ("/2/query/instance", "PUT", {"fields": "name"}),
            ("/2/query/instance", "PUT", {"fields": [1, None]}),
            ("/2/query/instance", "PUT", {"fields": ["name"], "qfilter": "junk"}),
            ("/2/filters", "POST", {"priority": "high"}),
            ("/2/filters", "POST", {"predicates": {}}),
            ("/2/filters/%s" % ("0" * 8), "PUT", {"action": 5})):
        status, message, _ = request(vc, method, path, body, ADMIN)
        assert status == 400, (path, body, status, message)
    assert_unchanged(vc, before)


def test_query_filters_of_wrong_shape_get_400(vc):
    for qfilter in (["?", 5], ["?", None], ["?"], ["!"], ["|", ["!"]], ["?", ["name"]],
                    ["&", ["?", "name"], ["?", 5]]):
        status, message, _ = request(vc, "PUT", "/2/query/instance",
                                     {"fields": ["name"], "qfilter": qfilter}, VIEWER)
        assert status == 400, (qfilter, status, message)


# --- the fuzz run ----------------------------------------------------------------

# resources whose GET submits a job (not "no change"): left out of the run
SUBMITS_ON_GET = {resources.OperatingSystems, resources.InstanceInfo,
                  resources.NodeStorage}
# what the write user must not send: handlers that take nothing from the
# body (any request would act), and the long poll (it takes unknown body keys)
IGNORE_BODY = {(cls, method) for cls in (resources.ClusterTags, resources.NodeTags,
                                         resources.InstanceTags, resources.GroupTags,
                                         resources.NetworkTags)
               for method in ("PUT", "DELETE")}
IGNORE_BODY |= {(resources.Group, "DELETE"), (resources.InstanceActivateDisks, "PUT"),
                (resources.InstanceDeactivateDisks, "PUT"),
                (resources.NodeStorageModify, "PUT"), (resources.NodeStorageRepair, "PUT"),
                (resources.Job, "DELETE"), (resources.Filter, "DELETE"),
                (resources.JobWait, "GET")}
# query arguments that make a write take them instead of its body
BODY_OVERRIDING_QUERY = {"live", "mode"}

QUERY_KEYS = ["bulk", "dry-run", "force", "reason", "tag", "fields", "lock", "static",
              "type", "no_remember", "ignore_secondaries", "ignore_size", "nostartup", "os",
              "remote_node", "mode", "live", "disks", "iallocator", "output_fields",
              "storage_type", "name", "allocatable", "auto-promote", "previous_log_serial",
              "previous_job_info", "__version__", "x", ""]
PARAM_NAMES = ["beparams", "hvparams", "osparams", "nics", "disks", "amount", "disk",
               "wait_for_sync", "name", "os", "mode", "pnode", "snode", "disk_template",
               "__version__", "instances", "fields", "qfilter", "filter", "priority",
               "predicates", "action", "reason", "new_name", "start", "iallocator",
               "remote_node", "target_node", "shutdown", "force", "dry_run", "maxmem"]
UNICODE = "éß漢字🙂\u202e\u0000\ud7ff\ufffd\u00a0²٣"
FILTER_OPS = ["=", "!=", "<", ">", "<=", ">=", "=~", "=[]", "&", "|", "!", "?", "==", "x",
              "", None, 1]
FILTER_FIELDS = ["name", "status", "pnode", "tags", "be/maxmem", "oper_ram", "disk.sizes",
                 "nic.mac/0", "uuid", "ctime", "id", "nosuch", "", 5, None]
QUERY_RESOURCES = ["instance", "node", "group", "job", "network", "os", "lock", "cluster",
                   "export", "filter", "extstorage", "nosuch"]


def served_path(path):
    """The path as the server looks it up (decoded, no query)."""
    path = urllib.parse.unquote(path.split("?", 1)[0])
    return "/" + path.lstrip("/") if path.startswith("//") else path


def resource_of(path):
    found = resources.lookup(served_path(path))
    return found[0] if found else None


def never_valid(body, rng):
    """``body`` (bytes) unless a write could take it (no body at all, or JSON
    that is false or an object without a "fuzz-" key); then an object that
    is never valid."""
    if not body:
        value = None                    # an empty body is no body
    else:
        try:
            value = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):
            return body
    if value and not (isinstance(value, dict)
                      and not any(key.startswith("fuzz-") for key in value)):
        return body
    return json.dumps({"fuzz-%d" % rng.randrange(10 ** 6): value}).encode()


class Fuzzer:
    """Random requests from ``rng``; each a (method, path, body, ctype, headers,
    writes) tuple, ``writes`` true for the write user."""

    def __init__(self, rng, vc, job_ids):
        self.rng = rng
        self.names = [INSTANCE, vc.master.name, "default", "instance", "node", "group",
                      "job", "index.html", "app.js"] + [str(j) for j in job_ids]

    # --- pieces ---------------------------------------------------------------
    def text(self, alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_", most=20):
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(1, most)))

    def name(self):
        rng = self.rng
        kind = rng.randrange(-10, 14)
        if kind < 5:
            return urllib.parse.quote(rng.choice(self.names), safe="")
        if kind == 5:
            name = rng.choice(self.names)
            return name.upper() if rng.random() < 0.5 else name + rng.choice(["x", ".", "-"])
        if kind == 6:
            return self.text()
        if kind == 7:
            return "".join("%%%02X" % rng.randrange(256) for _ in range(rng.randint(1, 12)))
        if kind == 8:
            return urllib.parse.quote(self.text(UNICODE, 6), safe="")
        if kind == 9:
            return rng.choice(["..", ".", "...", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%2F",
                               "a%2Fb", "%00", "%0a", "~", "*", "%3F", "%23", "%25", "%",
                               "%zz", "a;b", "$x", "'", "(", "+"])
        if kind == 10:
            return "a" * rng.choice([1, 200, 254, 255, 256, 300, 1000, 4000, 8200])
        if kind == 11:
            return "9" * rng.choice([1, 5, 20, 255, 256, 4400, 5000])
        if kind == 12:
            return ""
        return str(rng.randrange(-5, 100000))

    def path(self):
        rng = self.rng
        template, _ = rng.choice(resources._TABLE)
        parts = []
        for part in template.split("/"):
            if part == "N":
                part = (rng.choice(QUERY_RESOURCES)
                        if template.startswith("/2/query/") and rng.random() < 0.5
                        else self.name())
            elif part == r"(\d+)":
                part = rng.choice(["0", "1", str(rng.randrange(10 ** 6)), self.name()])
            parts.append(part)
        path = "/".join(parts) or "/"
        mutation = rng.randrange(30)
        if mutation == 0:
            path += "/"
        elif mutation == 1:
            path += "/" + self.name()
        elif mutation == 2:
            path = path.replace("/", "//", 1)
        elif mutation == 3:
            path = "/3" + path
        elif mutation == 4 and "/" in path[1:]:
            path = path.rsplit("/", 1)[0]
        return path

    def query(self, writes):
        rng = self.rng
        count = rng.choice([0, 0, 0, 1, 1, 2, 3, 5])
        pairs = []
        for _ in range(count):
            key = rng.choice(QUERY_KEYS)
            if writes and key in BODY_OVERRIDING_QUERY:
                continue
            value = rng.choice(["0", "1", "-1", "abc", "", "name,status", "1,2", "%FF",
                                "%00", "%zz", "9" * rng.randint(1, 40),
                                urllib.parse.quote(self.text(UNICODE, 5)),
                                urllib.parse.quote(self.text())])
            pairs.append("%s=%s" % (key, value) if rng.random() < 0.9 else key)
        if rng.random() < 0.02:
            pairs.append(rng.choice(["&&", "==", "a=b=c", "%", "&=&"]))
        return ("?" + "&".join(pairs)) if pairs else ""

    def value(self, depth=0):
        rng = self.rng
        kind = rng.randrange(9 if depth < 4 else 6)
        if kind == 0:
            return None
        if kind == 1:
            return rng.random() < 0.5
        if kind == 2:
            return rng.choice([0, 1, -1, 2 ** 31, 2 ** 64, rng.randrange(-10 ** 6, 10 ** 6)])
        if kind == 3:
            return rng.choice([0.5, -1e300, 1e-300, rng.random()])
        if kind == 4:
            return self.text()
        if kind == 5:
            return self.text(UNICODE + "ab", 8)
        if kind == 6:
            return [self.value(depth + 1) for _ in range(rng.randint(0, 4))]
        return self.object(depth + 1)

    def object(self, depth=0):
        rng = self.rng
        return {(rng.choice(PARAM_NAMES) if rng.random() < 0.7 else self.text()):
                self.value(depth) for _ in range(rng.randint(0, 5))}

    def invalid_json(self):
        rng = self.rng
        text = json.dumps(self.object())
        return rng.choice([
            text[:rng.randint(0, max(0, len(text) - 1))].encode(),
            text.encode() + b"}",
            b"[1,]", b"{'a': 1}", b"nul", b"NaN", b"[Infinity]", b"1e999", b'"\\ud800',
            b"[" * rng.choice([50, 101, 1000, 20000]),
            b"[" * 150 + b"]" * 150,
            b'{"a": ' + b"9" * 5000 + b"}",
            text.encode("utf-16"),
        ])

    def qfilter(self, depth=0):
        """A query filter, mostly of the right shape."""
        rng = self.rng
        op = rng.choice(FILTER_OPS)
        if depth > 4:
            return [op, rng.choice(FILTER_FIELDS)]
        if op in ("&", "|"):
            return [op] + [self.qfilter(depth + 1) for _ in range(rng.randint(0, 3))]
        if op == "!":
            return [op, self.qfilter(depth + 1)][:rng.randint(1, 3)]
        if op == "?":
            return [op, rng.choice(FILTER_FIELDS)][:rng.randint(1, 3)]
        operand = rng.choice([self.value(3), self.qfilter(depth + 1), rng.choice([
            "x", "", ".*", "(a+)+$", "[", "\\", INSTANCE, "*", 0, 1, -1, 0.5, True, None])])
        return [op, rng.choice(FILTER_FIELDS), operand][:rng.randint(1, 4)]

    def body(self, writes, path):
        """(body bytes or None, content type or None)."""
        rng = self.rng
        kind = rng.randrange(100)
        if served_path(path).startswith("/2/query/") and rng.random() < 0.5:
            fields = (rng.sample(FILTER_FIELDS[:12], rng.randint(0, 4))
                      if rng.random() < 0.8 else self.value())
            body = json.dumps({"fields": fields, rng.choice(["qfilter", "filter"]):
                               self.qfilter() if rng.random() < 0.9 else self.value()})
            return body.encode(), "application/json"
        if kind < 40 and not writes:
            body = None
        elif kind < 70:
            value = self.object() if rng.random() < 0.6 else self.value()
            if writes and isinstance(value, str):
                value = "fuzz-" + value         # never a node role
            body = json.dumps(value).encode()
        elif kind < 85:
            body = self.invalid_json()
        elif kind < 96:
            body = rng.randbytes(rng.randint(1, 2000))
        else:
            # around the limit, and a bit over
            size = server.MAX_BODY_SIZE + rng.randint(-2048, 64 * 1024)
            body = (rng.randbytes(size) if rng.random() < 0.5
                    else b"[" + b"1," * ((size - 3) // 2) + b"1]")
        ctype = rng.choice(["application/json"] * 16 + [
            "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", None,
            "application/jsonx", ";", "application/json" + "x" * 200])
        return body, ctype

    # --- one request -------------------------------------------------------------
    def request(self):
        rng = self.rng
        while True:
            path = self.path()
            cls = resource_of(path)
            methods = [m for m in ("GET", "PUT", "POST", "DELETE") if hasattr(cls, m)]
            if methods and rng.random() < 0.7:
                method = rng.choice(methods)        # one the resource has
            else:
                method = rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH",
                                     "OPTIONS"])
            if not (method == "GET" and cls in SUBMITS_ON_GET):
                break
        who = rng.randrange(100)
        if who < 20 and (cls, method) not in IGNORE_BODY:
            headers, writes = dict(ADMIN), True
        elif who < 55:
            headers, writes = dict(VIEWER), False
        elif who < 70:
            headers, writes = dict(rng.choice(BAD_CREDENTIALS)[0]), False
        else:
            headers, writes = {}, False
        body, ctype = self.body(writes, path)
        path += self.query(writes)
        if rng.random() < 0.03:
            headers.update(rng.choice([{"Expect": "100-continue"}, {"Connection": "close"},
                                       {"Content-Encoding": "gzip"}, {"Accept": "text/html"},
                                       {"Content-Type": "application/json"}]))
        if writes:
            # never valid: an object with a parameter no resource knows,
            # something true that is not an object, or no JSON at all (the
            # resources that act without looking at the body: IGNORE_BODY)
            body = never_valid(body, rng)
        return method, path, body, ctype, headers, writes


def _check_answer(method, path, status, headers, data):
    """None if the answer is acceptable, else what is wrong with it."""
    ctype = headers.get("Content-Type")
    if status == 200 and served_path(path).startswith(NOT_JSON):
        return None
    if ctype != "application/json":
        return "Content-Type %r" % ctype
    if headers.get("Content-Length") is None:
        return "no Content-Length"
    if method == "HEAD":
        return None if status in ALLOWED else "status %d" % status
    try:
        payload = json.loads(data)
    except ValueError:
        return "a body that is not JSON: %r" % data[:200]
    if status >= 400:
        if not (isinstance(payload, dict) and payload.get("code") == status
                and payload.get("message") and "explain" in payload):
            return "an error body of the wrong shape: %r" % data[:200]
        if status == 401 and "WWW-Authenticate" not in headers:
            return "401 without WWW-Authenticate"
    if status not in ALLOWED:
        return "status %d: %r" % (status, data[:300])
    return None


def _daemon_status(pid):
    """(RSS in KiB, threads, open file descriptors) of process ``pid``."""
    with open("/proc/%d/status" % pid) as fd:
        fields = dict(line.split(":", 1) for line in fd if ":" in line)
    return (int(fields["VmRSS"].split()[0]), int(fields["Threads"]),
            len(os.listdir("/proc/%d/fd" % pid)))


def test_fuzz(vc):
    m = vc.master
    pid = m.pid("ganeti-rapi")
    assert pid
    before = state(vc)
    job_ids = [int(line.split()[0]) for line in
               m.run("gnt-job", "list", "--no-headers", check=True).stdout.splitlines()]
    rng = random.Random(SEED)
    fuzzer = Fuzzer(rng, vc, job_ids)
    idle = _daemon_status(pid)
    log = m.path("/var/log/ganeti/rapi-daemon.log")
    log_start = os.path.getsize(log)
    conns = [connect(vc) for _ in range(CONNECTIONS)]
    statuses = Counter()
    writes = 0
    seed_note = "seed %d (repeat with GANETI_RAPI_FUZZ_SEED=%d)" % (SEED, SEED)
    start = time.monotonic()
    warm = None
    try:
        for i in range(REQUESTS):
            if i == WARM_UP:
                warm = _daemon_status(pid)
            method, path, body, ctype, headers, by_writer = fuzzer.request()
            writes += by_writer
            conn = rng.choice(conns)
            what = "request %d, %s %s (%s bytes, %s, %s), %s" % (
                i, method, path[:200], None if body is None else len(body), ctype,
                headers.get("Authorization"), seed_note)
            try:
                status, resp_headers, data = send(conn, method, path, body, headers, ctype)
            except (OSError, http.client.HTTPException) as err:
                raise AssertionError("no answer to %s: %r" % (what, err))
            problem = _check_answer(method, path, status, resp_headers, data)
            assert problem is None, "%s: %s" % (what, problem)
            statuses[status] += 1
    finally:
        for conn in conns:
            conn.close()
    duration = time.monotonic() - start
    # the connections' threads and sockets go once the connections are closed
    deadline = time.monotonic() + 10
    end = _daemon_status(pid)
    while (end[1] > idle[1] or end[2] > idle[2]) and time.monotonic() < deadline:
        time.sleep(0.1)
        end = _daemon_status(pid)
    print("\nrapi fuzz: %d requests (%d with the write user) in %.1f s, %s; statuses %s"
          "; rss %d KiB before, %d KiB after %d requests, %d KiB at the"
          " end; threads %d -> %d; fds %d -> %d" % (
              REQUESTS, writes, duration, seed_note, dict(sorted(statuses.items())),
              idle[0], warm[0], WARM_UP, end[0], idle[1], end[1], idle[2],
              end[2]))
    # the same daemon, still serving, with bounded memory, threads and files
    assert m.pid("ganeti-rapi") == pid, seed_note
    assert end[0] < warm[0] + RSS_GROWTH_MAX and end[0] < 2 * warm[0], (warm, end, seed_note)
    assert end[0] < RSS_CAP, (end, seed_note)
    assert end[1] <= idle[1] and end[2] <= idle[2], (idle, end, seed_note)
    status, payload, _ = request(vc, "GET", "/2/info")
    assert status == 200 and payload["name"] == vcluster.CLUSTER_NAME
    # no request made the daemon log an error (an exception in a handler)
    with open(log, "rb") as fd:
        fd.seek(log_start)
        errors = [line for line in fd.read().decode("utf-8", "replace").splitlines()
                  if " ERROR " in line or "Traceback" in line]
    assert not errors, (errors[:10], seed_note)
    # nothing changed, no job was submitted
    assert_unchanged(vc, before, seed_note)
