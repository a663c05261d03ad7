"""A virtual cluster on this machine for the cluster-tier tests and benchmarks.

Each node is a root directory ``<base>/<node name>`` (GANETI_ROOTDIR) with its
own loopback address; the daemons and gnt-* commands run from the source tree.
Names resolve through /etc/hosts entries that are added when missing (in a
marked block) and left for the next run.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import ipolicy_testbed
import testlock

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = "/usr/bin/python3"
DOMAIN = "example.com"
NET = "127.0.2."
CLUSTER_NAME = "gnt-test-cluster." + DOMAIN
CLUSTER_IP = NET + "254"
HOSTS_FILE = "/etc/hosts"
HOSTS_MARK = "# ganeti test cluster (test/cluster/vcluster.py)"
# Virtual clusters use fixed addresses: runs sharing this machine's network
# take turns (testlock: one lock per network namespace).
LOCK_NAME = "vcluster"
# How long a test bed waits for another run's test bed (seconds); bounded so
# that a lock never released shows up as an error, not as a hang.
LOCK_TIMEOUT = float(os.environ.get("GANETI_TEST_LOCK_TIMEOUT", "900"))


def node_name(i):
    return "gnt-test-node%d.%s" % (i, DOMAIN)


def node_ip(i):
    return NET + str(i)


def take_lock(name=None, timeout=None):
    """Take the test-bed lock (LOCK_NAME), waiting at most LOCK_TIMEOUT
    seconds; returns what to give to testlock.release()."""
    return testlock.take(name or LOCK_NAME,
                         LOCK_TIMEOUT if timeout is None else timeout)


def ensure_hosts(count=3):
    """Add our test names to HOSTS_FILE if they are missing (creating the file)."""
    wanted = [(node_ip(i), node_name(i)) for i in range(1, count + 1)]
    wanted.append((CLUSTER_IP, CLUSTER_NAME))
    try:
        with open(HOSTS_FILE) as fd:
            current = fd.read()
    except FileNotFoundError:
        current = ""
    names = set()
    for line in current.splitlines():
        parts = line.split("#")[0].split()
        names.update(parts[1:])
    missing = ["%s %s" % (ip, name) for ip, name in wanted if name not in names]
    if missing:
        with open(HOSTS_FILE, "a") as fd:
            if current and not current.endswith("\n"):
                fd.write("\n")
            fd.write(HOSTS_MARK + "\n" + "\n".join(missing) + "\n")


class Node:
    def __init__(self, cluster, index):
        self.cluster = cluster
        self.index = index
        self.name = node_name(index)
        self.ip = node_ip(index)
        self.root = os.path.join(cluster.base, self.name)
        os.makedirs(self.root, exist_ok=True)

    @property
    def env(self):
        env = dict(os.environ)
        env.update({
            "GANETI_ROOTDIR": self.root,
            "GANETI_HOSTNAME": self.name,
            "PYTHONPATH": os.path.join(SRC, "lib"),
            "GANETI_DAEMONS_DIR": os.path.join(SRC, "daemons"),
            "PATH": os.path.join(SRC, "scripts") + ":" + env.get("PATH", "/usr/bin:/bin"),
        })
        env.pop("FORCE_LUXI_SOCKET", None)
        return env

    def path(self, rel):
        return self.root + rel

    def run(self, *argv, check=False, timeout=120, input_text=None):
        """Run a gnt-* command (or any program) as this node; returns CompletedProcess."""
        argv = list(argv)
        if argv[0].startswith("gnt-"):
            argv = [PYTHON, os.path.join(SRC, "scripts", argv[0])] + argv[1:]
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                              timeout=timeout, input=input_text)
        if check and proc.returncode != 0:
            raise AssertionError("%s failed (%d):\nstdout: %s\nstderr: %s" % (
                " ".join(argv), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def pid(self, daemon):
        try:
            with open(self.path("/var/run/ganeti/%s.pid" % daemon)) as fd:
                pid = int(fd.read().strip())
        except (OSError, ValueError):
            return 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return 0
        with open("/proc/%d/cmdline" % pid, "rb") as fd:
            if daemon.encode() not in fd.read():
                return 0
        return pid

    def write_rapi_users(self, text):
        """This node's RAPI users file (ganeti-rapi reads it again when it changes)."""
        os.makedirs(self.path("/var/lib/ganeti/rapi"), exist_ok=True)
        with open(self.path("/var/lib/ganeti/rapi/users"), "w") as fd:
            fd.write(text)

    def start_daemon(self, daemon, *args):
        return self.run(os.path.join(SRC, "daemons", daemon), *args, check=True)

    def kill_instances(self):
        """Kill the qemu processes of this node's KVM instances."""
        pid_dir = self.path("/var/run/ganeti/kvm-hypervisor/pid")
        if os.path.isdir(pid_dir):
            for name in os.listdir(pid_dir):
                _kill_pid_file(os.path.join(pid_dir, name), b"qemu")

    def kill_daemon(self, daemon, sig=signal.SIGTERM, wait=True):
        pid = self.pid(daemon)
        if not pid:
            return False
        os.kill(pid, sig)
        if wait:
            end = time.time() + 30
            while time.time() < end:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                # a killed child of ours would stay a zombie; daemons are not our children
                with open("/proc/%d/status" % pid) as fd:
                    if "\nState:\tZ" in fd.read():
                        break
                time.sleep(0.02)
        return True


def _kill_pid_file(path, needle):
    """SIGKILL the process named in ``path`` if its command line holds ``needle``."""
    try:
        with open(path) as fd:
            pid = int(fd.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as fd:
            if needle not in fd.read():
                return
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


class VirtualCluster:
    """``count`` nodes under a fresh temporary base directory."""

    def __init__(self, count=1, base=None):
        self.nodes = []
        self.base = None
        self._lock = take_lock()
        try:
            ensure_hosts(max(count, 3))
            # short: the KVM sockets below it must stay within 108 bytes
            self.base = base or tempfile.mkdtemp(prefix="gvc-")
            self.nodes = [Node(self, i) for i in range(1, count + 1)]
            self.master = self.nodes[0]
        except BaseException:
            # nobody gets this object to clean up: release the lock here
            self.cleanup()
            raise

    def init(self, *extra):
        args = ["gnt-cluster", "init", "--enabled-hypervisors=fake", "--no-lvm-storage",
                "--enabled-disk-templates=file,diskless", "--master-netdev=lo",
                "--nic-parameters=link=gntbr0"] + list(extra) + [CLUSTER_NAME]
        proc = self.master.run(*args, check=True)
        ipolicy_testbed.widen_ipolicy(self.master)   # small test instances
        return proc

    def join(self, node):
        """What gnt-node add does over ssh, done locally in the node's environment."""
        import json
        with open(self.master.path("/var/lib/ganeti/server.pem")) as fd:
            cert = fd.read()
        request = json.dumps({"cluster_name": CLUSTER_NAME, "certificate": cert})
        proc = node.run(os.path.join(SRC, "daemons", "ganeti-prepare-node-join"),
                        input_text=request)
        assert proc.returncode == 0, proc.stderr

    def add_node(self, node):
        """Join ``node`` and gnt-node add it (without ssh)."""
        self.join(node)
        self.master.run("gnt-node", "add", "--no-node-setup", node.name, check=True)

    def share(self, path):
        """Make ``path`` one directory on every node (as a shared filesystem's
        mount would be); returns it."""
        shared = os.path.join(self.base, "shared")
        os.makedirs(shared, exist_ok=True)
        for node in self.nodes:
            link = node.path(path)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(shared, link)
        return shared

    def cleanup(self):
        """Stop every daemon and instance we started (by pid file), drop the master
        IP, remove files; the lock is released even when a step fails."""
        try:
            for node in self.nodes:
                for daemon in ("ganeti-rapi", "ganeti-masterd", "ganeti-noded", "ganeti-etcd"):
                    node.kill_daemon(daemon, signal.SIGKILL)
                # etcd itself, the child of ganeti-etcd
                _kill_pid_file(node.path("/var/run/ganeti/ganeti-etcd-server.pid"),
                               b"/usr/bin/etcd")
                node.kill_instances()
            # the cluster IP, with whatever prefix a test gave it
            out = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"],
                                 capture_output=True, text=True).stdout
            for cidr in set(w for w in out.split() if w.startswith(CLUSTER_IP + "/")):
                subprocess.run(["ip", "addr", "del", cidr, "dev", "lo"], capture_output=True)
            if self.base:
                shutil.rmtree(self.base, ignore_errors=True)
        finally:
            if self._lock is not None:
                testlock.release(self._lock)
                self._lock = None


def started(count):
    """A context manager: a cluster of ``count`` nodes, initialised, the others
    added as nodes; stopped and removed when the block ends."""
    import contextlib

    @contextlib.contextmanager
    def _cluster():
        vc = VirtualCluster(count)
        try:
            vc.init()
            for node in vc.nodes[1:]:
                vc.add_node(node)
            yield vc
        finally:
            vc.cleanup()
    return _cluster()
