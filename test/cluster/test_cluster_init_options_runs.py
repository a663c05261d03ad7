"""gnt-cluster init/modify options on real virtual clusters: the external master
IP script and user shutdown set at init, the static states stored, the data
collectors recorded and shown, the ssh key type used for the key pair of a
node joined over ssh, and the refused options changing nothing
(doc/cluster-options.rst)."""

import json
import os
import shutil
import subprocess
import time

import pytest

import netns_cluster
import vcluster


def _config(node, until=lambda cluster: True, timeout=15):
    """The cluster in the node's config.data (a copy written from etcd), once
    ``until`` holds for it."""
    deadline = time.time() + timeout
    while True:
        with open(node.path("/var/lib/ganeti/config.data")) as fd:
            cluster = json.load(fd)["cluster"]
        if until(cluster) or time.time() > deadline:
            return cluster
        time.sleep(0.2)


def test_init_settings_take_effect(tmp_path):
    vc = vcluster.VirtualCluster(1)
    try:
        m = vc.master
        # refused at init: nothing is written, nothing starts
        for argv, message in [
                (["--gluster-storage-dir", "/srv/gluster"], "Gluster is not supported"),
                (["--install-image", "/srv/i.img"], "--install-image) is not supported"),
                (["--zeroing-image", "/srv/z.img"], "--zeroing-image) is not supported"),
                (["--ssh-key-type", "dsa"], "'dsa' cannot be made here"),
                (["--ssh-key-type", "ecdsa", "--ssh-key-bits", "1024"],
                 "Invalid key type and bit size combination: ecdsa with 1024 bits"),
                (["--hypervisor-state", "nosuchhv:mem_total=1"],
                 "Invalid hypervisor(s) in hypervisor state: nosuchhv"),
                (["--use-external-mip-script", "yes"],
                 "does not exist or is not executable")]:
            proc = subprocess.run(
                [vcluster.PYTHON, os.path.join(vcluster.SRC, "scripts", "gnt-cluster"),
                 "init", "--enabled-hypervisors=fake", "--no-lvm-storage",
                 "--enabled-disk-templates=file,diskless", "--master-netdev=lo"] + argv +
                [vcluster.CLUSTER_NAME], env=m.env, capture_output=True, text=True,
                timeout=120)
            assert proc.returncode == 1 and message in proc.stderr, (argv, proc.stderr)
            assert not os.path.exists(m.path("/var/lib/ganeti/config.data"))
            assert not m.pid("ganeti-noded")
        # the external master IP script brings the cluster IP up from the start
        script = m.path("/etc/ganeti/scripts/master-ip-setup")
        log = tmp_path / "mip.log"
        os.makedirs(os.path.dirname(script), exist_ok=True)
        with open(script, "w") as fd:
            fd.write("#!/bin/sh\necho \"$1 $MASTER_IP/$MASTER_NETMASK $MASTER_NETDEV\""
                     " >> %s\n" % log)
        os.chmod(script, 0o755)
        vc.init("--use-external-mip-script", "yes", "--user-shutdown", "yes",
                "--hypervisor-state", "fake:mem_total=4096",
                "--disk-state", "plain/xenvg:disk_total=1000",
                "--ssh-key-type", "ecdsa")
        # (init brings the IP up, and so does the master daemon when it starts)
        started = log.read_text().splitlines()
        assert started and set(started) == {"start %s/32 lo" % vcluster.CLUSTER_IP}
        addrs = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"],
                               capture_output=True, text=True).stdout
        assert vcluster.CLUSTER_IP + "/" not in addrs
        info = m.run("gnt-cluster", "info", check=True).stdout
        for line in ("  use external master IP address setup script: True\n",
                     "  enabled user shutdown: True\n", "  ssh_key_type: ecdsa\n",
                     "  ssh_key_bits: 384\n", "  install image: \n",
                     "  zeroing image: \n", "  instance communication network: \n",
                     "  gluster storage path: /var/run/ganeti/gluster\n"):
            assert line in info, (line, info)
        stored = _config(m)
        assert stored["hv_state_static"]["fake"] == {
            "cpu_node": 1, "cpu_total": 1, "mem_hv": 0, "mem_node": 0, "mem_total": 4096}
        assert stored["disk_state_static"] == {"plain": {"xenvg": {
            "disk_total": 1000, "disk_reserved": 0, "disk_overhead": 0}}}
        m.run("gnt-cluster", "modify", "--use-external-mip-script", "no", check=True)
    finally:
        vc.cleanup()


def test_modify_settings(tmp_path):
    vc = vcluster.VirtualCluster(1)
    try:
        vc.init()
        m = vc.master
        m.run("gnt-cluster", "modify", "--enabled-data-collectors", "drbd=false",
              "--data-collector-interval", "lv=2.5", "--hypervisor-state",
              "fake:cpu_total=8", check=True)
        info = m.run("gnt-cluster", "info", check=True).stdout
        assert "  drbd: \n    active: False\n    interval: 5.000s\n" in info, info
        assert "  lv: \n    active: True\n    interval: 2.500s\n" in info, info
        before = _config(m, lambda c: c["hv_state_static"]["fake"]["cpu_total"] == 8)
        assert before["hv_state_static"]["fake"]["cpu_total"] == 8
        for argv, message in [
                (["--install-image", "/srv/i.img"], "--install-image) is not supported"),
                (["--zeroing-image", "/srv/z.img"], "--zeroing-image) is not supported"),
                (["--instance-communication-network", "comm"],
                 "instance communication network"),
                (["--enabled-data-collectors", "nosuch=true"],
                 "Data collector names not recognized: nosuch"),
                (["--data-collector-interval", "lv=0"], "not above zero"),
                (["--disk-state", "file/x:disk_total=1"],
                 "Invalid storage type(s) in disk state: file")]:
            proc = m.run("gnt-cluster", "modify", *argv)
            assert proc.returncode == 1 and message in proc.stderr, (argv, proc.stderr)
        assert m.run("gnt-cluster", "info", check=True).stdout == info
        assert _config(m) == before
    finally:
        vc.cleanup()


def test_node_joined_over_ssh_gets_the_clusters_key_type():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    nc = netns_cluster.NetnsCluster(2, prefix="gnto")
    try:
        nc.init("--ssh-key-type", "ecdsa", "--ssh-key-bits", "256")
        m, n2 = nc.nodes
        key = m.path("/root/.ssh/id_ed25519")
        os.makedirs(os.path.dirname(key), exist_ok=True)
        shutil.copy(nc.ssh_key, key)
        shutil.copy(nc.ssh_key + ".pub", key + ".pub")
        os.chmod(key, 0o600)
        proc = m.run("gnt-node", "add", n2.name)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        with open(n2.path("/root/.ssh/id_ecdsa.pub")) as fd:
            public = fd.read().strip()
        assert public.startswith("ecdsa-sha2-nistp256 ")
        assert not os.path.exists(n2.path("/root/.ssh/id_rsa"))
        with open(m.path("/root/.ssh/authorized_keys")) as fd:
            assert public in fd.read()
        info = m.run("gnt-cluster", "info", check=True).stdout
        assert "  ssh_key_type: ecdsa\n  ssh_key_bits: 256\n" in info
    finally:
        nc.cleanup()
