"""The RAPI server on a loopback port over real HTTPS, with the master daemon
replaced by a recording LUXI stand-in: users and passwords, access, errors in
Ganeti's JSON shape, the resources' shapes, and the opcodes writes submit."""

import base64
import hashlib
import json
import os
import ssl
import time
import urllib.error
import urllib.request

import pytest

from ganeti import errors
from ganeti.rapi import resources, server, users
from ganeti.utils import x509

USERS = """# RAPI users
admin  secret  write
reader {cleartext}look read
hauser {HA1}%s write
nobody nothing
""" % hashlib.md5(b"hauser:Ganeti Remote API:hapass").hexdigest()


class FakeLuxi:
    """Answers like the master daemon; records the jobs submitted."""
    jobs = []
    fail = None

    def __init__(self):
        pass

    def close(self):
        pass

    def query(self, what, fields, qfilter=None):
        if FakeLuxi.fail:
            raise FakeLuxi.fail
        items = {"node": ["node2.example.com", "node1.example.com"],
                 "instance": ["inst1.example.com"]}[what]
        if qfilter is not None:
            wanted = [part[2] for part in qfilter[1:]]
            if any(w not in items for w in wanted):
                raise errors.OpPrereqError("Instance '%s' not known" % wanted[0],
                                           errors.ECODE_NOENT)
            items = wanted
        rows = []
        for name in items:
            row = []
            for field in fields:
                if field == "name":
                    row.append([0, name])
                elif field == "beparams":
                    row.append([0, {"maxmem": 128, "minmem": 128, "vcpus": 1}])
                elif field == "role":
                    row.append([0, "M" if name == "node1.example.com" else "C"])
                else:
                    row.append([2, None])      # no data
            rows.append(row)
        return {"fields": [{"name": f} for f in fields], "data": rows}

    def submit_job(self, ops):
        FakeLuxi.jobs.append([op.to_dict() for op in ops])
        return 100 + len(FakeLuxi.jobs)

    def query_cluster_info(self):
        return {"name": "cluster.example.com"}


@pytest.fixture
def rapi(tmp_path):
    cert = str(tmp_path / "rapi.pem")
    x509.generate_cluster_cert_file(cert)
    users_path = tmp_path / "users"
    users_path.write_text(USERS)
    FakeLuxi.jobs = []
    FakeLuxi.fail = None
    srv = server.RapiServer("127.0.0.1", 0, server.TlsFiles(cert),
                            users.UsersFile(str(users_path)), client_factory=FakeLuxi)
    srv.start()
    srv.users_path = users_path
    srv.cert = cert
    yield srv
    srv.shutdown()


def call(srv, method, path, body=None, user=None, password=None, ctype="application/json",
         raw=None):
    """(status, headers, decoded JSON body)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request("https://127.0.0.1:%d%s" % (srv.server_address[1], path),
                                 data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    if user is not None:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, resp.headers, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers, json.loads(err.read())


def test_users_file_parsing_and_passwords():
    parsed = users.parse(USERS + "broken-line\n")
    assert sorted(parsed) == ["admin", "hauser", "nobody", "reader"]
    assert parsed["admin"].options == ["write"]
    assert parsed["nobody"].options == []
    assert users.password_matches(parsed["admin"], "secret")
    assert not users.password_matches(parsed["admin"], "Secret")
    assert users.password_matches(parsed["reader"], "look")
    assert users.password_matches(parsed["hauser"], "hapass")
    assert not users.password_matches(parsed["hauser"], "other")
    assert not users.password_matches(users.User("x", "{MD5}abc", []), "abc")
    assert not users.password_matches(users.User("x", "{}abc", []), "abc")


def test_public_reads(rapi):
    assert call(rapi, "GET", "/version")[::2] == (200, 2)
    assert call(rapi, "GET", "/2")[::2] == (200, None)
    assert call(rapi, "GET", "/2/features")[2] == resources.FEATURES
    assert call(rapi, "GET", "/2/info")[2] == {"name": "cluster.example.com"}
    # sorted, with their URIs, as Ganeti lists them
    assert call(rapi, "GET", "/2/nodes")[2] == [
        {"id": "node1.example.com", "uri": "/2/nodes/node1.example.com"},
        {"id": "node2.example.com", "uri": "/2/nodes/node2.example.com"}]
    assert call(rapi, "GET", "/2/nodes/node1.example.com/role")[2] == "master"
    assert call(rapi, "GET", "/2/nodes/node2.example.com/role")[2] == "master-candidate"


def test_bulk_instances_have_ganetis_fields(rapi):
    status, _, data = call(rapi, "GET", "/2/instances?bulk=1")
    assert status == 200 and len(data) == 1
    assert list(data[0]) == resources.I_FIELDS
    assert data[0]["beparams"]["memory"] == 128          # maxmem under its old name
    assert data[0]["oper_state"] is None                 # no data: null
    single = call(rapi, "GET", "/2/instances/inst1.example.com")[2]
    assert single == data[0]


def test_errors_in_ganetis_json_shape(rapi):
    status, _, body = call(rapi, "GET", "/2/nothing")
    assert status == 404
    assert body == {"code": 404, "message": "Not Found",
                    "explain": "Nothing matches the given URI"}
    status, _, body = call(rapi, "GET", "/2/instances/nosuch")
    # HTML-escaped, as Ganeti 3.0 sends it
    assert (status, body["message"]) == (404, "Instance &#x27;nosuch&#x27; not known")
    status, _, body = call(rapi, "DELETE", "/2/info")
    assert status == 501 and "DELETE is unsupported" in body["message"]
    FakeLuxi.fail = errors.NoMasterError("Cannot connect to the master daemon")
    status, _, body = call(rapi, "GET", "/2/nodes")
    assert status == 502 and "not reachable" in body["message"]


def test_writes_need_a_write_user(rapi):
    path = "/2/instances/inst1.example.com/startup"
    status, headers, _ = call(rapi, "PUT", path)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="Ganeti Remote API"'
    assert call(rapi, "PUT", path, user="admin", password="wrong")[0] == 401
    assert call(rapi, "PUT", path, user="ghost", password="secret")[0] == 401
    assert call(rapi, "PUT", path, user="reader", password="look")[0] == 403
    assert call(rapi, "PUT", path, user="nobody", password="nothing")[0] == 403
    assert FakeLuxi.jobs == []
    assert call(rapi, "PUT", path, user="hauser", password="hapass")[::2] == (200, 101)
    # the query reads need "read" or "write", and no option is not enough
    assert call(rapi, "GET", "/2/query/node?fields=name", user="nobody",
                password="nothing")[0] == 403


def test_the_users_file_is_read_again_when_it_changes(rapi):
    path = "/2/instances/inst1.example.com/shutdown"
    assert call(rapi, "PUT", path, user="newbie", password="pw")[0] == 401
    rapi.users_path.write_text(USERS + "newbie pw write\n")
    assert call(rapi, "PUT", path, user="newbie", password="pw")[0] == 200
    os.unlink(rapi.users_path)
    assert call(rapi, "PUT", path, user="admin", password="secret")[0] == 401


def test_write_submits_the_opcode_with_reason_trail(rapi):
    status, _, job = call(rapi, "POST", "/2/instances/inst1.example.com/reboot"
                          "?type=soft&reason=maintenance&dry-run=1",
                          {"shutdown_timeout": 30}, user="admin", password="secret")
    assert (status, job) == (200, 101)
    (op,), = FakeLuxi.jobs
    assert op["OP_ID"] == "OP_INSTANCE_REBOOT"
    assert (op["instance_name"], op["reboot_type"], op["shutdown_timeout"],
            op["dry_run"]) == ("inst1.example.com", "soft", 30, True)
    assert [r[:2] for r in op["reason"]] == [
        ["gnt:user", "maintenance"], ["gnt:library:rlib2:instances_name_reboot", ""]]


def test_bad_bodies_change_nothing(rapi):
    auth = {"user": "admin", "password": "secret"}
    path = "/2/instances/inst1.example.com/modify"
    status, _, body = call(rapi, "PUT", path, {"no_such_param": 1}, **auth)
    assert status == 400 and "no_such_param" in body["message"]
    status, _, body = call(rapi, "PUT", path, {"beparams": "not a dict"}, **auth)
    assert status == 400 and "beparams" in body["message"]
    status, _, body = call(rapi, "PUT", path, ["a", "list"], **auth)
    assert status == 400 and "Body contents" in body["message"]
    status, _, body = call(rapi, "PUT", path, {"instance_name": "other"}, **auth)
    assert status == 400 and "static" in body["message"]
    status, _, body = call(rapi, "PUT", path, raw=b"{not json", **auth)
    assert (status, body["message"]) == (400, "Unable to parse JSON data")
    assert call(rapi, "PUT", path, {"beparams": {}}, ctype="text/plain", **auth)[0] == 415
    status, _, body = call(rapi, "PUT", path, raw=b" " * (server.MAX_BODY_SIZE + 1), **auth)
    assert status == 400 and "too large" in body["message"]
    status, _, body = call(rapi, "POST", "/2/instances", {"name": "x"}, **auth)
    assert status == 400 and "version 0" in body["message"]
    status, _, body = call(rapi, "PUT", "/2/nodes/node1.example.com/role", "master", **auth)
    assert (status, body["message"]) == (400, "Can&#x27;t set &#x27;master&#x27; role")
    assert FakeLuxi.jobs == []


def test_instance_create_takes_the_version_1_body(rapi):
    body = {"__version__": 1, "mode": "create", "name": "new.example.com",
            "disk_template": "plain", "disks": [{"size": 1024}], "nics": [{}],
            "os": "noop", "pnode": "node1.example.com"}
    assert call(rapi, "POST", "/2/instances", body, user="admin", password="secret")[0] == 200
    (op,), = FakeLuxi.jobs
    assert (op["OP_ID"], op["instance_name"], op["os_type"]) == (
        "OP_INSTANCE_CREATE", "new.example.com", "noop")


def test_reinstall_is_one_job_of_three_opcodes(rapi):
    call(rapi, "POST", "/2/instances/inst1.example.com/reinstall", {"os": "noop"},
         user="admin", password="secret")
    (ops,) = FakeLuxi.jobs
    assert [o["OP_ID"] for o in ops] == ["OP_INSTANCE_SHUTDOWN", "OP_INSTANCE_REINSTALL",
                                         "OP_INSTANCE_STARTUP"]


def test_a_new_certificate_is_served_without_a_restart(rapi):
    def served():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        import socket
        with socket.create_connection(("127.0.0.1", rapi.server_address[1])) as raw:
            with ctx.wrap_socket(raw) as tls:
                return tls.getpeercert(binary_form=True)
    before = served()
    time.sleep(0.01)
    x509.generate_cluster_cert_file(rapi.cert)
    after = served()
    assert before != after
    assert after == x509.cert_der(x509.load_cert(rapi.cert))


def test_lookup_table():
    assert resources.lookup("/2/instances/a/disk/0/grow") == (
        resources.InstanceGrowDisk, ["a", "0"])
    assert resources.lookup("/2/nodes/n1/") == (resources.Node, ["n1"])
    assert resources.lookup("/2/instances/a/b/c") is None
    assert resources.lookup("/3/info") is None


def test_every_field_the_resources_ask_for_exists():
    from ganeti import query
    for what, fields in [("instance", resources.I_FIELDS), ("node", resources.N_FIELDS),
                         ("group", resources.G_FIELDS), ("network", resources.NET_FIELDS),
                         ("job", resources.J_FIELDS), ("filter", resources.FILTER_FIELDS)]:
        kinds = {f["name"]: f["kind"] for f in query.query_fields(what, fields)["fields"]}
        assert [f for f in fields if kinds[f] == "unknown"] == [], what


def test_multi_alloc_checks_each_creation(rapi):
    auth = {"user": "admin", "password": "secret"}
    good = {"mode": "create", "name": "a.example.com", "disk_template": "diskless",
            "disks": [], "nics": [], "os": "noop"}
    status, _, body = call(rapi, "POST", "/2/instances-multi-alloc",
                           {"instances": [good, dict(good, bogus=1)]}, **auth)
    assert status == 400 and "bogus" in body["message"]
    assert FakeLuxi.jobs == []
    status, _, _ = call(rapi, "POST", "/2/instances-multi-alloc",
                        {"instances": [good], "iallocator": "hail"}, **auth)
    (op,), = FakeLuxi.jobs
    assert status == 200 and op["OP_ID"] == "OP_INSTANCE_MULTI_ALLOC"


def test_the_web_ui_files(rapi):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    base_url = "https://127.0.0.1:%d" % rapi.server_address[1]
    for path, ctype in (("/ui/", "text/html"), ("/ui", "text/html"),
                        ("/ui/app.js", "text/javascript"), ("/ui/style.css", "text/css")):
        with urllib.request.urlopen(base_url + path, context=ctx, timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith(ctype), path
            assert resp.read()
    assert call(rapi, "GET", "/ui/users")[0] == 404
    # no way out of the UI's directory: refused as a bad path
    for path in ("/ui/..%2Fusers.py", "/ui/%2E%2E/base.py"):
        assert call(rapi, "GET", path)[0] == 400, path


def test_scripts_get_no_password_challenge(rapi):
    """The web UI's requests (X-Requested-With) get a 401 without a Basic
    challenge, so the browser shows the page's error, not its own dialog."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request("https://127.0.0.1:%d/2/query/node?fields=name"
                                 % rapi.server_address[1],
                                 headers={"X-Requested-With": "XMLHttpRequest"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, context=ctx, timeout=10)
    assert err.value.code == 401 and "WWW-Authenticate" not in err.value.headers


def _sample(name):
    path = os.path.join(os.path.dirname(__file__), "data", "ganeti-3.0.2", "rapi",
                        name + ".json")
    with open(path) as fd:
        return json.load(fd)


def test_objects_have_the_fields_of_ganetis_samples():
    """The samples are a Ganeti 3.0.2 cluster's answers: our objects have the
    same keys (nodes in the same order), /2/info at least Ganeti's."""
    assert set(_sample("instance-one")) == set(resources.I_FIELDS)
    assert [set(i) for i in _sample("instances-bulk")] == [set(resources.I_FIELDS)]
    assert list(_sample("nodes-bulk")[0]) == resources.N_FIELDS
    from ganeti import objects
    from ganeti.cmdlib import cluster

    class Cfg:
        @staticmethod
        def get_cluster_info():
            return objects.Cluster(cluster_name="c.example.com", master_node="n1",
                                   enabled_hypervisors=["fake"])
    info = cluster.cluster_info(Cfg())
    sample = _sample("info")
    assert set(sample) <= set(info)
    for key, value in sample.items():
        if value is not None and info[key] is not None:
            assert type(info[key]) is type(value), key
