"""A multi-node test cluster on one machine: one network namespace per node.

Layout (nothing is added to the host's own network namespace)::

  ns <prefix>-br   bridge br0 with 10.79.0.1/24, one veth end vK per node
  ns <prefix>-nK   eth0 (peer of vK) = 10.79.0.(10+K)/24, lo up,
                   net.ipv4.ip_nonlocal_bind=1, its own sshd on 10.79.0.(10+K):22
  names            nodeK.vc.example.com, cluster.vc.example.com = 10.79.0.254,
                   in /etc/netns/<prefix>-nK/hosts (``ip netns exec`` mounts it
                   over /etc/hosts inside that namespace only)
  <base>/          cluster dir: ssh key id_ed25519, ssh_config, known_hosts
  <base>/<name>/   node root (GANETI_ROOTDIR), with etc/ssh (host key,
                   sshd_config), root/.ssh/authorized_keys, var/run/sshd.pid

``NetnsCluster`` has the API of ``vcluster.VirtualCluster`` (nodes, master,
init, cleanup; Node.run/env/pid/start_daemon/kill_daemon), except that every
command of a node runs inside its namespace, plus cut/uncut (link down/up of
the node's bridge port) and ssh between nodes. ``tools/vcluster-netns`` is
the command line around it (state kept in STATE_DIR/<prefix>.json).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ipolicy_testbed  # noqa: E402
import testlock  # noqa: E402
import vcluster  # noqa: E402

SRC = vcluster.SRC
PYTHON = vcluster.PYTHON
DEFAULT_PREFIX = "gnt"
NET = "10.79.0."
NETMASK = 24
BRIDGE_IP = NET + "1"
DOMAIN = "vc.example.com"
CLUSTER_NAME = "cluster." + DOMAIN
CLUSTER_IP = NET + "254"
STATE_DIR = "/run/ganeti-vcluster-netns"
SSHD = "/usr/sbin/sshd"
NETNS_ETC = "/etc/netns"


def node_name(i):
    return "node%d.%s" % (i, DOMAIN)


def node_ip(i):
    return NET + str(10 + i)


def _run(argv, check=True, timeout=120, **kwargs):
    # bounded: a command that hangs (ip, ssh-keygen, sshd) fails the set-up
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), proc.returncode,
                                                   proc.stderr.strip()))
    return proc


# What the namespace cluster runs, and the Debian package that has it.
NEEDED_PROGRAMS = (("ip", "iproute2"), (SSHD, "openssh-server"),
                   ("ssh", "openssh-client"), ("ssh-keygen", "openssh-client"))


def netns_supported():
    """'' if network namespaces work here (made, and entered with ``ip netns
    exec``), else the reason why not (not root, a kernel or sandbox limit).

    A missing package is no such reason but an error: RuntimeError naming it.
    """
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = sorted(set(pkg for prog, pkg in NEEDED_PROGRAMS if not shutil.which(prog)))
    if missing:
        raise RuntimeError("the namespace cluster needs the Debian packages %s "
                           "(sudo tools/install-deps --test)" % " ".join(missing))
    if not os.path.exists("/proc/self/ns/net"):
        return "the kernel has no network namespaces"
    probe = "gnt-probe-%d" % os.getpid()
    made = _run(["ip", "netns", "add", probe], check=False)
    if made.returncode != 0:
        return "cannot make a network namespace: %s" % made.stderr.strip()
    try:
        entered = _run(["ip", "netns", "exec", probe, "true"], check=False)
    finally:
        _run(["ip", "netns", "del", probe], check=False)
    if entered.returncode != 0:
        # e.g. in a chroot whose / is no mount point: ip cannot remount /sys there
        return "'ip netns exec' does not work here: %s" % entered.stderr.strip()
    return ""


def list_namespaces(prefix):
    """Our namespaces (<prefix>-br, <prefix>-nK) that exist now."""
    out = _run(["ip", "netns", "list"], check=False).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [name for name in names if _is_ours(name, prefix)]


def _is_ours(name, prefix):
    """Whether a namespace name is <prefix>-br or <prefix>-n<number>."""
    rest = name[len(prefix) + 1:] if name.startswith(prefix + "-") else None
    return bool(rest == "br" or (rest and rest[0] == "n" and rest[1:].isdigit()))


def _pid_alive(pid, needle=None):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fd:
            cmdline = fd.read()
        with open("/proc/%d/status" % pid) as fd:
            if "\nState:\tZ" in fd.read():
                return False
    except (OSError, ValueError):
        return False
    return needle is None or needle in cmdline


def _read_pid(path):
    try:
        with open(path) as fd:
            return int(fd.read().strip())
    except (OSError, ValueError):
        return 0


def _wait_gone(pids, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if not any(_pid_alive(p) for p in pids):
            return True
        time.sleep(0.02)
    return False


class Node(vcluster.Node):
    """A node: its own namespace, address, root directory and sshd."""

    def __init__(self, cluster, index):   # pylint: disable=super-init-not-called
        self.cluster = cluster
        self.index = index
        self.name = node_name(index)
        self.ip = node_ip(index)
        self.netns = "%s-n%d" % (cluster.prefix, index)
        self.veth = "v%d" % index         # our end in the bridge namespace
        self.root = os.path.join(cluster.base, self.name)
        os.makedirs(self.root, exist_ok=True)

    def ns_argv(self, argv):
        return ["ip", "netns", "exec", self.netns] + list(argv)

    def gnt_argv(self, name):
        """How this node runs the gnt-* command ``name``: the source tree's."""
        return [PYTHON, os.path.join(SRC, "scripts", name)]

    def run(self, *argv, check=False, timeout=120, input_text=None):
        """Run a gnt-* command (or any program) as this node, in its namespace."""
        argv = list(argv)
        if argv[0].startswith("gnt-"):
            argv = self.gnt_argv(argv[0]) + argv[1:]
        full = self.ns_argv(argv)
        proc = subprocess.run(full, env=self.env, capture_output=True, text=True,
                              timeout=timeout, input=input_text)
        if check and proc.returncode != 0:
            raise AssertionError("%s failed (%d):\nstdout: %s\nstderr: %s" % (
                " ".join(full), proc.returncode, proc.stdout, proc.stderr))
        return proc

    # ---- sshd ----------------------------------------------------------------

    @property
    def sshd_config(self):
        return self.path("/etc/ssh/sshd_config")

    @property
    def sshd_pid_file(self):
        return self.path("/var/run/sshd.pid")

    def sshd_pid(self):
        pid = _read_pid(self.sshd_pid_file)
        return pid if pid and _pid_alive(pid, b"sshd") else 0

    def setup_sshd(self, pubkey):
        for rel in ("/etc/ssh", "/root/.ssh", "/var/run", "/var/log"):
            os.makedirs(self.path(rel), exist_ok=True)
        hostkey = self.path("/etc/ssh/ssh_host_ed25519_key")
        if not os.path.exists(hostkey):
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.name,
                  "-f", hostkey])
        auth = self.path("/root/.ssh/authorized_keys")
        with open(auth, "w") as fd:
            fd.write(pubkey)
        os.chmod(auth, 0o600)
        env = self.env
        setenv = " ".join("%s=%s" % (k, env[k]) for k in (
            "GANETI_ROOTDIR", "GANETI_HOSTNAME", "PYTHONPATH", "GANETI_DAEMONS_DIR")
            if k in env)
        with open(self.sshd_config, "w") as fd:
            fd.write("\n".join([
                "# sshd of virtual node %s (tools/vcluster-netns)" % self.name,
                "ListenAddress %s:22" % self.ip,
                "HostKey %s" % hostkey,
                "PidFile %s" % self.sshd_pid_file,
                "AuthorizedKeysFile %s" % auth,
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "UseDNS no",
                "PrintMotd no",
                "SetEnv %s" % setenv,
                "Subsystem sftp internal-sftp",
                "",
            ]))
        with open(hostkey + ".pub") as fd:
            return fd.read().split()[:2]

    def start_sshd(self):
        # sshd refuses to start without its privilege separation directory
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        _run(self.ns_argv([SSHD, "-f", self.sshd_config,
                           "-E", self.path("/var/log/sshd.log")]))
        end = time.time() + 5
        while not self.sshd_pid() and time.time() < end:
            time.sleep(0.01)
        if not self.sshd_pid():
            raise RuntimeError("sshd of %s did not start" % self.name)


class NetnsCluster:
    """``count`` nodes, each in a network namespace, under a new base dir.

    setup=False attaches to a cluster that is already up (the CLI does this
    with the saved state); the lock is only taken when lock=True.
    """

    node_class = Node

    def __init__(self, count=3, base=None, prefix=DEFAULT_PREFIX, setup=True, lock=True):
        self.prefix = prefix
        self.count = count
        self.br_netns = prefix + "-br"
        self._lock = None
        if lock:
            self._lock = vcluster.take_lock()
        if setup and (list_namespaces(prefix) or os.path.exists(self.state_file(prefix))):
            self._unlock()
            raise RuntimeError("a cluster with prefix %s exists already (namespaces: %s);"
                               " run 'tools/vcluster-netns down --prefix %s' first"
                               % (prefix, " ".join(list_namespaces(prefix)) or "none",
                                  prefix))
        try:
            # short: Unix socket paths below it must stay within 108 bytes
            self.base = base or tempfile.mkdtemp(prefix="gvn-")
            os.makedirs(self.base, exist_ok=True)
            self.nodes = [self.node_class(self, i) for i in range(1, count + 1)]
            self.master = self.nodes[0] if self.nodes else None
            self.setup_time = None
            if setup:
                start = time.time()
                self._setup()
                self.setup_time = time.time() - start
        except BaseException:
            if setup:
                self.cleanup()
            else:
                self._unlock()
            raise

    # ---- state (for the command line tool) -----------------------------------

    @staticmethod
    def state_file(prefix):
        return os.path.join(STATE_DIR, prefix + ".json")

    def _save_state(self):
        os.makedirs(STATE_DIR, exist_ok=True)
        with open(self.state_file(self.prefix), "w") as fd:
            json.dump({"prefix": self.prefix, "count": self.count, "base": self.base}, fd)

    @classmethod
    def attach(cls, prefix=DEFAULT_PREFIX):
        """The cluster that 'up' made (None if there is no saved state)."""
        try:
            with open(cls.state_file(prefix)) as fd:
                state = json.load(fd)
        except (OSError, ValueError):
            return None
        return cls(state["count"], state["base"], prefix, setup=False, lock=False)

    # ---- set up ---------------------------------------------------------------

    @property
    def ssh_key(self):
        return os.path.join(self.base, "id_ed25519")

    @property
    def ssh_config(self):
        return os.path.join(self.base, "ssh_config")

    def hosts_text(self):
        lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
        lines += ["%s %s %s" % (n.ip, n.name, n.name.split(".")[0]) for n in self.nodes]
        lines.append("%s %s" % (CLUSTER_IP, CLUSTER_NAME))
        return "\n".join(lines) + "\n"

    def _setup(self):
        self._save_state()
        brns = self.br_netns
        batch = ["netns add %s" % brns]
        batch += ["netns add %s" % n.netns for n in self.nodes]
        _run(["ip", "-batch", "-"], input="\n".join(batch) + "\n")
        batch = [
            "-n %s link set lo up" % brns,
            "-n %s link add br0 type bridge stp_state 0 forward_delay 0" % brns,
            "-n %s addr add %s/%d dev br0" % (brns, BRIDGE_IP, NETMASK),
            "-n %s link set br0 up" % brns,
        ]
        for n in self.nodes:
            batch += [
                # each end created directly in its namespace: nothing in the host's
                "link add %s netns %s type veth peer name eth0 netns %s"
                % (n.veth, brns, n.netns),
                "-n %s link set %s master br0 up" % (brns, n.veth),
                "-n %s link set lo up" % n.netns,
                "-n %s addr add %s/%d dev eth0" % (n.netns, n.ip, NETMASK),
                "-n %s link set eth0 up" % n.netns,
            ]
        # "ip -batch" takes no per-line "-n": run each line as its own ip call
        # through one shell to save process start-ups
        script = "set -e\n" + "\n".join("ip " + line for line in batch) + "\n"
        script += "".join("ip netns exec %s sysctl -qw net.ipv4.ip_nonlocal_bind=1\n"
                          % n.netns for n in self.nodes)
        _run(["sh", "-c", script])
        hosts = self.hosts_text()
        for n in self.nodes:
            etc = os.path.join(NETNS_ETC, n.netns)
            os.makedirs(etc, exist_ok=True)
            with open(os.path.join(etc, "hosts"), "w") as fd:
                fd.write(hosts)
        # ssh: one cluster key, a host key per node, a known_hosts with all of them
        if not os.path.exists(self.ssh_key):
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vcluster-netns",
                  "-f", self.ssh_key])
        with open(self.ssh_key + ".pub") as fd:
            pubkey = fd.read()
        known = []
        for n in self.nodes:
            ktype, key = n.setup_sshd(pubkey)
            # root's key on every node, as on a real cluster: gnt-node add uses it
            for suffix, mode in (("", 0o600), (".pub", 0o644)):
                dest = n.path("/root/.ssh/id_ed25519" + suffix)
                shutil.copy(self.ssh_key + suffix, dest)
                os.chmod(dest, mode)
            known.append("%s,%s,%s %s %s" % (n.name, n.name.split(".")[0], n.ip, ktype, key))
        known_hosts = os.path.join(self.base, "known_hosts")
        with open(known_hosts, "w") as fd:
            fd.write("\n".join(known) + "\n")
        with open(self.ssh_config, "w") as fd:
            fd.write("Host *\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n"
                     "  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n"
                     "  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 5\n"
                     "  LogLevel ERROR\n" % (self.ssh_key, known_hosts))
        for n in self.nodes:
            n.start_sshd()

    # ---- operations -----------------------------------------------------------

    def node(self, k):
        return self.nodes[k - 1]

    # one directory on every node, as a shared filesystem's mount (sharedfile)
    share = vcluster.VirtualCluster.share

    def init(self, *extra):
        """gnt-cluster init on the first node (master IP on its eth0)."""
        args = ["gnt-cluster", "init", "--enabled-hypervisors=fake", "--no-lvm-storage",
                "--enabled-disk-templates=file,diskless", "--master-netdev=eth0",
                "--nic-parameters=link=gntbr0"] + list(extra) + [CLUSTER_NAME]
        proc = self.master.run(*args, check=True)
        ipolicy_testbed.widen_ipolicy(self.master)   # small test instances
        return proc

    def cut(self, k):
        """Take node k off the network (its bridge port goes down)."""
        _run(["ip", "-n", self.br_netns, "link", "set", self.node(k).veth, "down"])

    def uncut(self, k):
        _run(["ip", "-n", self.br_netns, "link", "set", self.node(k).veth, "up"])

    def is_cut(self, k):
        out = _run(["ip", "-n", self.br_netns, "-o", "link", "show", self.node(k).veth],
                   check=False).stdout
        flags = out.split("<", 1)[-1].split(">", 1)[0].split(",")
        return "UP" not in flags

    def ssh_argv(self, k_from, k_to, command):
        """argv running ``command`` (a string) on node k_to over ssh from k_from."""
        return self.node(k_from).ns_argv(["ssh", "-F", self.ssh_config,
                                          self.node(k_to).name, command])

    def ssh(self, k_from, k_to, command, timeout=30):
        """Run ``command`` (a shell string) on node k_to, by ssh from node k_from."""
        return subprocess.run(self.ssh_argv(k_from, k_to, command), capture_output=True,
                              text=True, timeout=timeout)

    def status(self):
        """[{node, ip, netns, exists, link, sshd, noded, masterd}] per node."""
        existing = set(list_namespaces(self.prefix))
        result = []
        for n in self.nodes:
            there = n.netns in existing
            result.append({
                "node": n.name, "ip": n.ip, "netns": n.netns, "exists": there,
                "link": ("down" if self.is_cut(n.index) else "up") if there else "-",
                "sshd": n.sshd_pid(), "noded": n.pid("ganeti-noded"),
                "masterd": n.pid("ganeti-masterd"), "root": n.root,
            })
        return result

    # ---- tear down ------------------------------------------------------------

    def _unlock(self):
        if self._lock is not None:
            testlock.release(self._lock)
            self._lock = None

    def cleanup(self):
        """Kill what runs in our namespaces, delete them and the node roots."""
        start = time.time()
        killed = []
        for node in getattr(self, "nodes", []):
            for daemon in ("ganeti-masterd", "ganeti-noded", "ganeti-etcd", "ganeti-confd",
                           "ganeti-rapi", "ganeti-luxid", "ganeti-wconfd"):
                pid = node.pid(daemon)
                if pid and node.kill_daemon(daemon, signal.SIGKILL, wait=False):
                    killed.append(pid)
            node.kill_instances()
            pid = node.sshd_pid()
            if pid:
                os.kill(pid, signal.SIGTERM)
                killed.append(pid)
        # whatever else still runs inside our namespaces was started there by us
        # (children of the daemons, test helpers): end it by pid
        for ns in list_namespaces(self.prefix):
            out = _run(["ip", "netns", "pids", ns], check=False).stdout
            for pid in [int(p) for p in out.split() if p.isdigit()]:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
        _wait_gone(killed)
        namespaces = list_namespaces(self.prefix)
        if namespaces:
            _run(["ip", "-batch", "-"], check=False,
                 input="".join("netns del %s\n" % ns for ns in namespaces))
        netns_dirs = [n.netns for n in getattr(self, "nodes", [])]
        if os.path.isdir(NETNS_ETC):
            netns_dirs += [d for d in os.listdir(NETNS_ETC) if _is_ours(d, self.prefix)]
        for name in netns_dirs:
            shutil.rmtree(os.path.join(NETNS_ETC, name), ignore_errors=True)
        if os.path.isdir(NETNS_ETC) and not os.listdir(NETNS_ETC):
            os.rmdir(NETNS_ETC)
        if getattr(self, "base", None):
            shutil.rmtree(self.base, ignore_errors=True)
        try:
            os.unlink(self.state_file(self.prefix))
        except FileNotFoundError:
            pass
        if os.path.isdir(STATE_DIR) and not os.listdir(STATE_DIR):
            os.rmdir(STATE_DIR)
        self._unlock()
        self.teardown_time = time.time() - start
        return self.teardown_time


def down(prefix=DEFAULT_PREFIX):
    """Tear down the cluster of ``prefix``, also without saved state."""
    vc = NetnsCluster.attach(prefix)
    if vc is None:
        # no saved state: node roots unknown; what runs in the namespaces is
        # still killed (by pid) and the namespaces and /etc/netns dirs removed
        vc = NetnsCluster(0, base=None, prefix=prefix, setup=False, lock=False)
    return vc.cleanup()
