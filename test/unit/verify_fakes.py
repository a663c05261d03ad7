"""Shared fakes for the gnt-cluster verify unit tests: a config and an RPC runner
whose node_verify answers come from the real node-side code plus overrides."""

import time
import types
from unittest import mock

from ganeti import opcodes
from ganeti.backend import node as bnode
from ganeti.cmdlib import cluster_verify
from test_cluster_admin import _make_cfg as _admin_cfg


class Result:
    def __init__(self, data=None, fail_msg=None):
        self.data = data
        self.fail_msg = fail_msg
        self.offline = False


class FakeRpc:
    """node_verify runs the real checks here (one machine: every node sees the same
    files) and then applies ``answers`` {node: {check: result}}."""

    def __init__(self, answers, running=None):
        self.answers = answers
        self.running = running or {}
        self.checks = None
        self.candidates = ["node1.example.com"]

    def call_node_verify(self, nodes, checks, cluster_name):
        self.checks = checks
        out = {}
        for node in nodes:
            local = dict(checks)
            for key in ("ssh-clutter", "file-orphans"):
                if isinstance(local.get(key), dict):
                    local[key] = dict(local[key], name=node)
            data = bnode.node_verify(local, cluster_name, root_dir="")
            # names resolve, files agree and bridges exist unless a test says otherwise
            data["time"] = time.time()
            if "bridges" in local:
                data["bridges"] = []
            data["nodelist"] = {}
            data["filelist"] = dict((f, "sum") for f in checks["filelist"]
                                    if node in self.candidates or "config.data" not in f)
            data.update(self.answers.get(node, {}))
            out[node] = Result(data)
        return out

    def call_all_instances_info(self, nodes, hvs, hvparams):
        return dict((n, Result(self.running.get(n, {}))) for n in nodes)

    def call_node_info(self, nodes, units, specs):
        return dict((n, Result({"memory_free": 1 << 20})) for n in nodes)


def make_cfg(tmp_path, nodes=2, instances=(), file_storage_dir=None):
    """test_cluster_admin's two-node config, with file storage below tmp_path."""
    cfg = _admin_cfg(tmp_path, nodes=nodes)
    cluster = cfg.get_cluster_info()
    cluster.file_storage_dir = file_storage_dir or str(tmp_path / "fs")
    cfg.update(cluster)
    for inst in instances:
        cfg.add_instance(inst)
    return cfg


def run_verify(cfg, answers, running=None, etcd_problems=(), **params):
    """(result, log lines) of gnt-cluster verify over the fake RPC: the jobs that
    LUClusterVerify submits (the config job, one job per node group), each LU
    run in turn as the job queue would; the result is True if none found an
    ERROR.

    There is no etcd in the unit tier: its check answers ``etcd_problems``
    (the real check runs in test/cluster/test_etcd_members_runs.py).
    """
    op = opcodes.OpClusterVerify(**params)
    op.validate()
    logs = []
    rpc = FakeRpc(answers, running)
    ctx = types.SimpleNamespace(cfg=cfg, rpc=rpc, glm=None)
    lu = cluster_verify.LUClusterVerify(None, op, ctx, logs.append)
    lu.expand_names()
    lu.check_prereq()
    submitted = lu.exec(logs.append)
    ok = True
    with mock.patch("ganeti.etcd.membership.check",
                    lambda cfg, client=None: list(etcd_problems)):
        for (job_op,) in submitted.jobs:
            job_op.validate()
            cls = (cluster_verify.LUClusterVerifyConfig
                   if isinstance(job_op, opcodes.OpClusterVerifyConfig)
                   else cluster_verify.LUClusterVerifyGroup)
            job_lu = cls(None, job_op, ctx, logs.append)
            job_lu.expand_names()
            job_lu.check_prereq()
            ok = job_lu.exec(logs.append) and ok
    return ok, logs
