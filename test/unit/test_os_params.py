"""Private and secret OS parameters, OS parameter checks on the nodes, the flags of
instance create/modify and the cleanup after a failed creation."""

import json
import os
import threading
import time

import pytest

from ganeti import constants, errors, jqueue, objects, opcodes
from ganeti.cmdlib import instance_cleanup, instance_flags, os_params

SECRET = "s3cr3t-Value-42"
PRIVATE = "pr1vate-Value-7"


def _create_op(**extra):
    data = {"OP_ID": "OP_INSTANCE_CREATE", "instance_name": "inst1.example.com",
            "disks": [], "disk_template": "diskless", "mode": "create", "nics": [],
            "os_type": "noop", "pnode": "node1.example.com",
            "osparams": {"size": "1"}, "osparams_private": {"key": PRIVATE},
            "osparams_secret": {"password": SECRET}}
    data.update(extra)
    return data


class _Recorder:
    """An executor that keeps the opcodes it runs (and can block the first one)."""

    def __init__(self, block=False):
        self.ops = []
        self.release = threading.Event()
        if not block:
            self.release.set()

    def __call__(self, opcode, cbs):
        cbs.notify_start()
        self.ops.append(opcode)
        self.release.wait(10)
        opcodes.check_secrets_present(opcode)
        return True


def _wait_status(queue, job_id, wanted, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = queue.query_jobs([job_id], ["status"])[0][0]
        if status in wanted:
            return status
        time.sleep(0.01)
    raise AssertionError("job %s never reached %s" % (job_id, wanted))


def _files_text(directory):
    text = ""
    for dirpath, _, files in os.walk(directory):
        for name in files:
            with open(os.path.join(dirpath, name), errors="replace") as fd:
                text += fd.read()
    return text


def test_secret_never_written_nor_shown_but_executed(tmp_path):
    qdir = str(tmp_path / "queue")
    executor = _Recorder(block=True)
    queue = jqueue.JobQueue(qdir, executor, num_workers=1)
    queue.start()
    try:
        job_id = queue.submit_job([_create_op()])
        _wait_status(queue, job_id, [constants.JOB_STATUS_RUNNING])
        assert SECRET not in _files_text(qdir)
        ops, = queue.query_jobs([job_id], ["ops"])[0]
        shown = json.dumps(ops)
        assert SECRET not in shown and PRIVATE not in shown
        assert ops[0]["osparams_secret"] == {"password": opcodes.REDACTED}
        assert ops[0]["osparams_private"] == {"key": opcodes.REDACTED}
        assert ops[0]["osparams"] == {"size": "1"}
        executor.release.set()
        _wait_status(queue, job_id, constants.JOBS_FINALIZED)
        assert executor.ops[0].osparams_secret == {"password": SECRET}
        assert queue.query_jobs([job_id], ["status"])[0][0] == constants.JOB_STATUS_SUCCESS
        assert SECRET not in _files_text(qdir)
        # the private value is kept on disk so that the job can run after a restart
        assert PRIVATE in _files_text(qdir)
    finally:
        queue.shutdown(timeout=2)


def test_job_reloaded_from_disk_asks_for_the_secrets_again(tmp_path):
    qdir = str(tmp_path / "queue")
    first = jqueue.JobQueue(qdir, _Recorder(), num_workers=1)
    first.start()           # makes the queue directory and its version file
    first.shutdown(timeout=2)
    # a queued job as the master wrote it before it stopped
    job = jqueue.job.QueuedJob(7, [jqueue.job.QueuedOpCode(_create_op(), 0)],
                               jqueue.job.timestamp())
    with open(os.path.join(qdir, "job-7"), "w") as fd:
        json.dump(job.serialize(), fd)
    queue = jqueue.JobQueue(qdir, _Recorder(), num_workers=1)
    queue.start()
    try:
        _wait_status(queue, 7, constants.JOBS_FINALIZED)
        result = queue.query_jobs([7], ["status", "opresult"])[0]
        assert result[0] == constants.JOB_STATUS_ERROR
        assert "Please re-submit secret parameters to job." in json.dumps(result[1])
    finally:
        queue.shutdown(timeout=2)


def test_split_secrets_leaves_other_parameters():
    public, secrets = opcodes.split_secrets(_create_op(osparams_secret=None))
    assert secrets == {} and public["osparams_secret"] is None
    public, secrets = opcodes.split_secrets(_create_op())
    assert secrets == {"osparams_secret": {"password": SECRET}}
    assert public["osparams_private"] == {"key": PRIVATE}


# ---- parameters ------------------------------------------------------------------------

def test_updated_params_default_and_none_remove():
    assert os_params.updated_params({"a": "1", "b": "2", "c": "3"},
                                    {"a": "default", "b": None, "d": "4"}) == \
        {"c": "3", "d": "4"}
    assert os_params.updated_params(None, None) == {}


def _cluster():
    return objects.Cluster(
        cluster_name="c.example.com", enabled_hypervisors=["fake"],
        hvparams={"fake": {"migration_mode": "live"}},
        beparams={"default": {"maxmem": 128, "vcpus": 1}},
        nicparams={"default": {"mode": "bridged", "link": "br0"}},
        osparams={"noop": {"size": "1"}}, os_hvp={})


def test_all_params_merge_order():
    inst = objects.Instance(name="i", os="noop+v", osparams={"x": "public"},
                            osparams_private={"x": "private", "y": "p"})
    params = os_params.all_params(_cluster(), inst, {"y": "secret"})
    assert params == {"size": "1", "x": "private", "y": "secret"}


def test_identify_defaults_drops_values_equal_to_the_defaults():
    inst = objects.Instance(
        name="i", os="noop", hypervisor="fake",
        hvparams={"migration_mode": "live", "other": 1},
        beparams={"maxmem": 128, "vcpus": 2}, osparams={"size": "1", "fs": "ext4"},
        nics=[objects.NIC(mac="aa:00:00:00:00:01",
                          nicparams={"mode": "bridged", "link": "br1"})])
    os_params.revert_to_defaults(_cluster(), inst)
    assert inst.hvparams == {"other": 1}
    assert inst.beparams == {"vcpus": 2}
    assert inst.osparams == {"fs": "ext4"}
    assert inst.nics[0].nicparams == {"link": "br1"}


class _Res:
    def __init__(self, data=None, fail_msg=None):
        self.data = data
        self.fail_msg = fail_msg

    def raise_on_failure(self, msg=None, prereq=False, ecode=None):
        if self.fail_msg:
            cls = errors.OpPrereqError if prereq else errors.OpExecError
            raise cls("%s: %s" % (msg, self.fail_msg), ecode)


class _Cfg:
    def __init__(self, instances=(), group="g1"):
        self.instances = dict((i.name, i) for i in instances)
        self.group = group

    def get_node_info(self, name):
        return objects.Node(name=name, vm_capable=name != "storage-only", group=self.group)

    def get_all_instances_info(self):
        return self.instances

    def lookup_node_group(self, name):
        if name == "default":
            return "g1"
        raise errors.OpPrereqError("Node group '%s' not found" % name, errors.ECODE_NOENT)


class _LU:
    def __init__(self, rpc, cfg=None):
        self.rpc = rpc
        self.cfg = cfg or _Cfg()
        self.infos = []
        self.warnings = []

    def log_info(self, msg, *args):
        self.infos.append(msg % args)

    def log_warning(self, msg, *args):
        self.warnings.append(msg % args)


class _ValidateRpc:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def call(self, procedure, nodes, args, timeout):
        self.calls.append((procedure, list(nodes), args))
        return dict((n, self.answers[n]) for n in nodes)


def test_check_os_params_reports_the_verify_script_output():
    rpc = _ValidateRpc({"n1": _Res(fail_msg="OS validation script failed (exited with"
                                   " exit code 1), output: bad flavour")})
    with pytest.raises(errors.OpExecError) as exc:
        os_params.check_os_params(_LU(rpc), True, ["n1", "storage-only"], "noop",
                                  {"flavour": "x"})
    assert exc.value.args[0] == ("OS Parameters validation failed on node n1: OS"
                                 " validation script failed (exited with exit code"
                                 " 1), output: bad flavour")
    # node that cannot run instances is not asked; the check is "parameters"
    assert rpc.calls == [("os_validate", ["n1"],
                          [True, "noop", ["parameters"], {"flavour": "x"}, False])]


def test_check_os_params_missing_os_not_required_is_reported():
    lu = _LU(_ValidateRpc({"n1": _Res(data=False)}))
    os_params.check_os_params(lu, False, ["n1"], "noop", {})
    assert lu.infos == ["OS noop not found on node n1, validation skipped"]


def test_instance_for_os_script_merges_secrets():
    class Cfg:
        def get_cluster_info(self):
            return _cluster()
    inst = objects.Instance(name="i", os="noop", hypervisor="fake", osparams={"a": "1"},
                            osparams_private={"b": "2"})
    data = os_params.instance_for_os_script(Cfg(), inst, {"c": "3"})
    assert data["osparams"] == {"size": "1", "a": "1", "c": "3"}
    assert data["osparams_private"] == {"b": "2"}
    assert "c" not in os_params.instance_for_os_script(Cfg(), inst)["osparams"]


# ---- flags -----------------------------------------------------------------------------

def _inst(name, ip):
    return objects.Instance(name=name, nics=[objects.NIC(mac="aa:00:00:00:00:%02d"
                                                         % len(name), ip=ip)])


def test_conflicts_check_refuses_an_address_in_use():
    cfg = _Cfg([_inst("other", "192.0.2.10")])
    with pytest.raises(errors.OpPrereqError) as exc:
        instance_flags.check_ip_conflicts(cfg, _inst("new", "192.0.2.10"))
    assert "192.0.2.10 of NIC 0 is already in use by instance other" in exc.value.args[0]
    assert exc.value.args[1] == errors.ECODE_NOTUNIQUE
    instance_flags.check_ip_conflicts(cfg, _inst("new", "192.0.2.11"))
    instance_flags.check_ip_conflicts(cfg, _inst("other", "192.0.2.10"))  # itself


def test_hotplug_refused_and_if_possible_goes_on():
    inst = objects.Instance(name="i", hypervisor="kvm")
    lu = _LU(None)
    with pytest.raises(errors.OpPrereqError) as exc:
        instance_flags.check_hotplug(lu, inst, True, False)
    assert exc.value.args[0] == ("Hotplug is not possible: Hotplug is not supported by"
                                 " the kvm hypervisor")
    assert instance_flags.check_hotplug(lu, inst, False, True) is False
    assert lu.infos == ["Modification will take place without hotplugging."]
    assert instance_flags.check_hotplug(lu, inst, False, False) is False


def test_opportunistic_locking_needs_an_iallocator():
    op = opcodes.OpCode.from_dict(_create_op(opportunistic_locking=True))
    with pytest.raises(errors.OpPrereqError) as exc:
        instance_flags.check_opportunistic_locking(op)
    assert "only available in combination with an instance allocator" in exc.value.args[0]


def test_group_name_must_exist_and_hold_the_node():
    cfg = _Cfg(group="g1")
    node = cfg.get_node_info("n1")
    instance_flags.check_node_in_group(cfg, node, None)
    instance_flags.check_node_in_group(cfg, node, "default")
    with pytest.raises(errors.OpPrereqError) as exc:
        instance_flags.check_node_in_group(cfg, node, "nosuchgroup")
    assert exc.value.args[0] == "Node group 'nosuchgroup' not found"
    cfg.group = "g2"
    with pytest.raises(errors.OpPrereqError):
        instance_flags.check_node_in_group(cfg, cfg.get_node_info("n1"), "default")


# ---- cleanup after a failed creation ---------------------------------------------------

class _FlakyNodeRpc:
    """Every call fails while ``down`` is > 0 (each call counts one down)."""

    def __init__(self, down):
        self.down = down
        self.log = []

    def _answer(self, what):
        self.log.append(what)
        if self.down > 0:
            self.down -= 1
            return _Res(fail_msg="Connection refused")
        return _Res(data=True)

    def call_version(self, nodes):
        return dict((n, self._answer("version")) for n in nodes)

    def __getattr__(self, name):
        if name.startswith("call_"):
            return lambda *args: self._answer(name[5:])
        raise AttributeError(name)


def _file_instance():
    disk = objects.Disk(dev_type="file", size=64, iv_name="disk/0",
                        logical_id=["loop", "/srv/ganeti/file-storage/i1/disk0-x.file"])
    return objects.Instance(name="i1", primary_node="n1", disk_template="file",
                            disks=[disk])


def test_cleanup_retries_once_the_node_answers(monkeypatch):
    monkeypatch.setattr(instance_cleanup, "RETRY_INTERVAL", 0.01)
    rpc = _FlakyNodeRpc(down=6)
    lu = _LU(rpc)
    assert instance_cleanup.remove_created(lu, _file_instance(), {}, wait=5) == []
    assert rpc.log[-3:] == ["blockdev_shutdown", "blockdev_remove",
                            "file_storage_dir_remove"]
    assert "retrying once it answers" in lu.warnings[0]


def test_cleanup_names_leftovers_when_the_node_stays_away(monkeypatch):
    monkeypatch.setattr(instance_cleanup, "RETRY_INTERVAL", 0.01)
    lu = _LU(_FlakyNodeRpc(down=10 ** 6))
    start = time.monotonic()
    left = instance_cleanup.remove_created(lu, _file_instance(), {}, wait=0.3)
    assert time.monotonic() - start < 3
    assert left == ["instance i1 running on n1",
                    "disk disk/0 (/srv/ganeti/file-storage/i1/disk0-x.file) on n1",
                    "directory /srv/ganeti/file-storage/i1"]
    assert lu.warnings[-1].startswith("Left over on node n1: instance i1 running")


def test_cleanup_of_a_reachable_node_does_not_wait(monkeypatch):
    rpc = _FlakyNodeRpc(down=0)
    start = time.monotonic()
    assert instance_cleanup.remove_created(_LU(rpc), _file_instance(), {}, wait=30) == []
    assert time.monotonic() - start < 1 and "version" not in rpc.log
