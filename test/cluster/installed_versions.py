"""Two installed versions of this source tree, and a namespace cluster whose
nodes run whichever version their /etc/ganeti/{lib,share} links name.

``install_versions`` builds the tree twice, as version 0.1 (this tree) and as
0.2 (a copy whose configure.ac says 0.2.0), and installs both with make
install under one temporary prefix, as on a node where a second version was
installed alongside the first ($(libdir)/ganeti/X.Y, $(datadir)/ganeti/X.Y).
configure gets /etc and /var, which a virtual node prefixes with its root; the
install runs with DESTDIR so that nothing outside the prefix is touched, and
the prefix's files are then moved in place.

``InstalledNetnsCluster`` nodes run the installed programs through their own
active-version links (<root>/etc/ganeti/share/gnt-*), never the source tree.
"""

import os
import shutil
import subprocess
import sys

import netns_cluster

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import source_copy  # noqa: E402

SRC = netns_cluster.SRC
PYTHON = netns_cluster.PYTHON
# what the tests set for the source tree; an installed program must not see it
DEV_ENV = ("PYTHONPATH", "GANETI_DAEMONS_DIR", "GANETI_SCRIPTS_DIR")


def _run(argv, cwd, env=None):
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, "%s: %s%s" % (argv, proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


def _clean_env():
    return {k: v for k, v in os.environ.items() if k not in DEV_ENV}


def _build_and_install(src, prefix, stage):
    env = _clean_env()
    _run(["sh", "autogen.sh"], src, env)
    _run(["sh", "configure", "PYTHON=" + PYTHON, "--prefix=" + prefix,
          "--sysconfdir=/etc", "--localstatedir=/var"], src, env)
    _run(["make", "-j2", "install", "DESTDIR=" + stage, "srvdir=/srv/ganeti"], src, env)
    # only the prefix's part moves in place; the stage's /etc, /var and /srv go
    _run(["cp", "-a", stage + prefix + "/.", prefix + "/"], src, env)
    shutil.rmtree(stage)


def install_versions(base, extra=("0.2.0",)):
    """Install this tree (0.1) and copies of it as the ``extra`` versions under
    <base>/usr; returns the prefix."""
    prefix = os.path.join(base, "usr")
    os.makedirs(prefix)
    for index, package_version in enumerate((None,) + tuple(extra)):
        src = os.path.join(base, "src%d" % index)
        source_copy.copy_tree(src, package_version)
        _build_and_install(src, prefix, os.path.join(base, "stage%d" % index))
        shutil.rmtree(src)
    return prefix


class InstalledNode(netns_cluster.Node):
    """A node that runs the version its /etc/ganeti/{lib,share} links name."""

    @property
    def env(self):
        env = super().env
        for key in DEV_ENV:
            env.pop(key, None)
        path = [p for p in env.get("PATH", "/usr/bin:/bin").split(":")
                if not p.startswith(SRC)]
        env["PATH"] = ":".join([self.path("/etc/ganeti/share")] + path)
        return env

    def program(self, name):
        return self.path("/etc/ganeti/share/" + name)

    def gnt_argv(self, name):
        return [self.program(name)]

    def start_daemon(self, daemon, *args):
        return self.run(self.program(daemon), *args, check=True)

    def activate(self, prefix, version):
        """Make ``version`` (X.Y) this node's active one, as make install's first
        install does."""
        etc = self.path("/etc/ganeti")
        os.makedirs(etc, exist_ok=True)
        for link, target in (("lib", os.path.join(prefix, "lib", "ganeti", version)),
                             ("share", os.path.join(prefix, "share", "ganeti", version))):
            path = os.path.join(etc, link)
            if os.path.lexists(path):
                os.unlink(path)
            os.symlink(target, path)

    def active_version(self):
        return os.path.basename(os.readlink(self.path("/etc/ganeti/share")))


class InstalledNetnsCluster(netns_cluster.NetnsCluster):
    node_class = InstalledNode
