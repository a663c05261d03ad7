"""gnt-instance modify -t between file, sharedfile and ext on a one-node cluster
with real daemons: the node copies the data (dd), checked byte for byte
against random data written into the disk files; --file-storage-dir and
--file-driver place the new disks, --ext-params reaches the ExtStorage
provider (test/es_provider.py: its volumes are files); a copy that runs out of
space midway (the target directory is a small tmpfs) leaves the instance, its
old disks and data as they were and no new file; the refusals. (plain <->
file needs LVM: the QA tier's test_mirror_ops_qa.py converts plain -> file ->
plain.)"""

import hashlib
import os
import re
import subprocess
import sys

import pytest

import golden_samples
import vcluster

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import es_provider  # noqa: E402

FILE_DIR = "/srv/ganeti/file-storage"
SHARED_DIR = "/srv/ganeti/shared-file-storage"
NAME = "conv1.example.com"
SIZES = (4, 8)                       # MiB; the second disk does not fit the tmpfs
LAST_LINE = ("Please don't forget that most parameters take effect only at the next"
             " (re)start of the instance initiated by ganeti; restarting from within"
             " the instance will not be enough.")


@pytest.fixture(scope="module")
def vc():
    cluster = vcluster.VirtualCluster(1)
    try:
        cluster.voldir = os.path.join(cluster.base, "ext-volumes")
        es_provider.install(cluster.master.path(es_provider.ES_DIR), "conv",
                            cluster.voldir)
        cluster.init("--enabled-disk-templates=file,sharedfile,ext,diskless")
        yield cluster
    finally:
        cluster.cleanup()


def _log_lines(out):
    return golden_samples.STAMP.sub("", out).splitlines()


def _disk_files(node, directory):
    """The instance's disk files below ``directory`` (cluster path), by index."""
    found = []
    for root, _, names in os.walk(node.path(directory)):
        found += [os.path.join(root, n) for n in names if re.search(r"\.disk\d+$", n)]
    return sorted(found, key=lambda path: int(path.rsplit("disk", 1)[1]))


def _digest(path):
    with open(path, "rb") as fd:
        return hashlib.sha256(fd.read()).hexdigest()


def _row(m, fields, name=NAME):
    out = m.run("gnt-instance", "list", "--no-headers", "--separator=|", "-o", fields,
                name, check=True).stdout
    return out.rstrip("\n").split("|")


def _convert(m, *args, check=True):
    return m.run("gnt-instance", "modify", *(list(args) + [NAME]), check=check)


def _steps(old, new, sizes, shown=None):
    """Ganeti's job log of a conversion (``shown``: how it names the target)."""
    shown = shown or new
    return ["Converting disk template from '%s' to '%s'" % (old, shown),
            "Generating new '%s' disk template..." % shown,
            "Creating new empty disks of type '%s'..." % shown,
            "Populating the new empty disks of type '%s'..." % shown] + [
        " - copying data from disk %d (%s), size %dM" % (idx, old, size)
        for idx, size in enumerate(sizes)] + [
        "Detaching old disks (%s) from the instance and removing them from cluster"
        " config" % old,
        "Adding new disks (%s) to cluster config and attaching them to the instance"
        % shown,
        " - INFO: Waiting for instance %s to sync disks" % NAME,
        " - INFO: Instance %s's disks are in sync" % NAME,
        "Removing old block devices of type '%s'..." % old,
        "Modified instance %s" % NAME,
        " - disk_template -> %s" % new,
        LAST_LINE]


class _Tmpfs:
    """A small tmpfs mounted at ``path`` while the block runs."""

    def __init__(self, path, size_mib):
        self.path, self.size = path, size_mib

    def __enter__(self):
        os.makedirs(self.path)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % self.size, "tmpfs",
                        self.path], check=True)
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", self.path], check=True)
        os.rmdir(self.path)


def _add(m, name, *args):
    m.run("gnt-instance", "add", "-n", m.name, "--no-install", "--no-start",
          "--no-name-check", "--no-ip-check", "--no-nics", *(list(args) + [name]),
          check=True)


_PREREQ = "Failure: prerequisites not met for this operation:\nerror type: %s, error" \
    " details:\n%s\n"
_FILE_OPTS = ("Specifying file-based configuration arguments requires converting to a"
              " file-based disk template\n")


def test_file_sharedfile_ext_file_with_data(vc):
    m = vc.master
    _add(m, NAME, "-t", "file", *["--disk=%d:size=%dM" % (i, s)
                                  for i, s in enumerate(SIZES)])
    files = _disk_files(m, FILE_DIR)
    assert len(files) == 2
    digests = []
    for path, size in zip(files, SIZES):
        with open(path, "r+b") as fd:
            fd.write(os.urandom(size * 1024 * 1024))
        digests.append(_digest(path))

    proc = _convert(m, "-t", "sharedfile")
    assert _log_lines(proc.stdout) == _steps("file", "sharedfile", SIZES), proc.stdout
    assert _row(m, "disk_template,disk.sizes,status") == ["sharedfile", "4,8",
                                                          "ADMIN_down"]
    new = _disk_files(m, SHARED_DIR)
    assert [os.path.dirname(p) for p in new] == [m.path(SHARED_DIR + "/" + NAME)] * 2
    assert [_digest(p) for p in new] == digests
    assert _disk_files(m, FILE_DIR) == [] and not os.path.exists(os.path.dirname(files[0]))
    # the new disks are the instance's: it starts on them
    m.run("gnt-instance", "startup", NAME, check=True)
    links = [os.readlink(m.path("/var/run/ganeti/instance-disks/%s:%d" % (NAME, i)))
             for i in range(2)]
    assert links == new

    # a running instance is not converted
    proc = _convert(m, "-t", "file", check=False)
    assert (proc.returncode, proc.stderr) == (1, (
        "Failure: prerequisites not met for this operation:\nerror type: wrong_state,"
        " error details:\nInstance '%s' is marked to be up, cannot change disk"
        " template\n" % NAME))
    m.run("gnt-instance", "shutdown", NAME, check=True)

    # the copy of the second disk runs out of space: nothing changes
    small = m.path(FILE_DIR + "/small")
    with _Tmpfs(small, 6):
        proc = _convert(m, "-t", "file", "--file-storage-dir=small", check=False)
        assert proc.returncode == 1
        lines = _log_lines(proc.stdout)
        assert lines[4:6] == [" - copying data from disk 0 (sharedfile), size 4M",
                              " - copying data from disk 1 (sharedfile), size 8M"], lines
        assert re.match(r" - ERROR: Could not copy disk '%s/%s/[^']*\.sharedfile\.disk1'"
                        r" to '%s/small/%s/[^']*\.file\.disk1'$" % (
                            SHARED_DIR, re.escape(NAME), FILE_DIR, re.escape(NAME)),
                        lines[6]), lines
        assert lines[7:] == [
            " - INFO: Some disks failed to copy",
            " - INFO: The instance will not be affected, aborting operation",
            " - INFO: Removing newly created disks of type 'file'...",
            " - INFO: Newly created disks removed successfully"]
        assert "Error while converting the instance's template: Disk conversion command" \
            " 'dd if=" in proc.stderr and "No space left on device" in proc.stderr, \
            proc.stderr
        assert os.listdir(small) == []
    assert _row(m, "disk_template,status") == ["sharedfile", "ADMIN_down"]
    assert _disk_files(m, SHARED_DIR) == new and [_digest(p) for p in new] == digests

    # a directory outside the file storage dir: refused by the node, nothing made
    proc = _convert(m, "-t", "file", "--file-storage-dir=../../../etc", check=False)
    assert proc.returncode == 1 and "must not contain '..'" in proc.stderr, proc.stderr
    assert " - WARNING: Device creation failed" in _log_lines(proc.stdout)
    assert _row(m, "disk_template") == ["sharedfile"] and _disk_files(m, FILE_DIR) == []

    # to ext: the provider's volumes, with its parameter
    proc = _convert(m, "-t", "ext", "-e", "provider=conv,pool=fast")
    assert _log_lines(proc.stdout) == _steps("sharedfile", "ext", SIZES, "ext:conv"), \
        proc.stdout
    volumes = sorted(es_provider.volumes(vc.voldir), key=lambda v: v[-1])   # disk<N>
    assert [_digest(os.path.join(vc.voldir, v)) for v in volumes] == digests
    assert [es_provider.last_env(vc.voldir, v, "create")["EXTP_POOL"]
            for v in volumes] == ["fast", "fast"]
    assert _disk_files(m, SHARED_DIR) == []
    assert _row(m, "disk_template,disk.sizes") == ["ext", "4,8"]

    proc = _convert(m, "-t", "file", "--file-storage-dir=sub/dir", "--file-driver=blktap")
    assert _log_lines(proc.stdout) == _steps("ext", "file", SIZES), proc.stdout
    assert es_provider.volumes(vc.voldir) == []
    back = _disk_files(m, FILE_DIR)
    assert [os.path.dirname(p) for p in back] == [
        m.path(FILE_DIR + "/sub/dir/" + NAME)] * 2
    assert [_digest(p) for p in back] == digests
    info = m.run("gnt-instance", "info", NAME, check=True).stdout
    assert info.count("blktap") == 2, info
    verify = m.run("gnt-cluster", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    m.run("gnt-instance", "remove", "-f", NAME, check=True)
    assert _disk_files(m, FILE_DIR) == []


def test_refusals(vc):
    """Refused before anything changes: by the client as Ganeti's (no job), or by
    the master."""
    m = vc.master
    diskless, small = "conv2.example.com", "conv3.example.com"
    _add(m, diskless, "-t", "diskless")
    _add(m, small, "-t", "file", "-s", "1M")
    files = _disk_files(m, FILE_DIR)
    try:
        for name, args, stderr in [
                (diskless, ["-t", "file"], _PREREQ % (
                    "wrong_input", "Conversion from the 'diskless' disk template is not"
                    " supported")),
                (small, ["-t", "diskless"], _PREREQ % (
                    "wrong_input", "Conversion to the 'diskless' disk template is not"
                    " supported")),
                (small, ["-t", "blockdev"], _PREREQ % (
                    "wrong_input", "Conversion to the 'blockdev' disk template is not"
                    " supported")),
                (small, ["-t", "file"], _PREREQ % (
                    "wrong_input", "Instance already has disk template file")),
                (small, ["-t", "plain"], _PREREQ % (
                    "wrong_state", "Disk template 'plain' is not enabled for this cluster"
                    " (enabled templates: file, sharedfile, ext, diskless)")),
                (small, ["-t", "ext", "-e", "provider=nope"], _PREREQ % (
                    "environment_error", "ExtStorage provider 'nope' is not valid on"
                    " node %s: Directory for External Storage Provider nope not found"
                    " in search path" % m.name)),
                (small, ["-t", "sharedfile", "-e", "provider=p"], "Specifying"
                 " ExtStorage parameters requires converting to the 'ext' disk"
                 " template\n"),
                (small, ["-t", "ext"], "Provider option is missing, use either the"
                 " '--ext-params' or '-e' option\n"),
                (small, ["-t", "ext", "-e", "size=1G"], _PREREQ % (
                    "wrong_input", "Missing required parameter 'provider' when converting"
                    " to an ExtStorage disk template")),
                (small, ["-t", "diskless", "--file-driver=loop"], _FILE_OPTS),
                (small, ["--file-storage-dir=x", "-B", "vcpus=2"], _FILE_OPTS)]:
            proc = m.run("gnt-instance", "modify", *(args + [name]))
            assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", stderr), args
        assert _row(m, "disk_template", diskless) == ["diskless"]
        assert _row(m, "disk_template,be/vcpus", small) == ["file", "1"]
        assert _disk_files(m, FILE_DIR) == files
    finally:
        for name in (diskless, small):
            m.run("gnt-instance", "remove", "-f", name, check=True)
