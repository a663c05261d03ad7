"""QA-tier fixtures: three QEMU (TCG) VM nodes with real LVM and DRBD (vmbed.py).

The nodes boot once per test session (about 15 s) and are stopped at its end;
GANETI_QA_KEEP=1 leaves them running (``test/qa/vmbed.py down`` stops them) and
a later session reuses running ones.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import vmbed  # noqa: E402

NODES = 3


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the VM test bed needs root (netns, taps)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def vms():
    """The booted VM nodes: an object with ssh(k, command) and the node names."""
    if vmbed.running_nodes() < NODES:
        took = vmbed.up(NODES)
        print("\nQA: %d VM nodes ssh-ready in %.1f s" % (NODES, took))
    try:
        yield vmbed
    finally:
        if os.environ.get("GANETI_QA_KEEP") != "1":
            vmbed.down()
