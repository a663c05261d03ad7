"""The instance policy of the test clusters.

Ganeti's default policy wants disks of at least 1 GiB and one NIC; the cluster
tests create many small, NIC-less instances, so the test beds widen the
policy's ranges right after ``gnt-cluster init`` (test_instance_params_runs.py sets
the default policy again to test its enforcement).
"""

import json

WIDE_MINMAX = [{
    "min": {"cpu-count": 1, "disk-count": 0, "disk-size": 1, "memory-size": 1,
            "nic-count": 0, "spindle-use": 0},
    "max": {"cpu-count": 64, "disk-count": 16, "disk-size": 1 << 40,
            "memory-size": 1 << 30, "nic-count": 8, "spindle-use": 12},
}]


def set_ipolicy(node, ipolicy):
    """Submit OP_CLUSTER_SET_PARAMS with ``ipolicy`` on ``node`` (the master) and
    wait for it."""
    ops = [{"OP_ID": "OP_CLUSTER_SET_PARAMS", "ipolicy": ipolicy}]
    node.run("gnt-debug", "submit-job", "--each", "/dev/stdin", check=True,
             input_text=json.dumps(ops))


def widen_ipolicy(node):
    set_ipolicy(node, {"minmax": WIDE_MINMAX})
