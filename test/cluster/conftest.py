"""Cluster-tier fixtures: a real one-node virtual cluster per test module."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))

import vcluster  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="cluster tests need root (/etc/hosts, ip addr)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def cluster():
    vc = vcluster.VirtualCluster(1)
    try:
        vc.init()
        yield vc
    finally:
        vc.cleanup()


@pytest.fixture
def fresh_cluster():
    vc = vcluster.VirtualCluster(1)
    try:
        yield vc
    finally:
        vc.cleanup()
