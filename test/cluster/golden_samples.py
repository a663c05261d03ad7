"""Replaying Ganeti 3.0.2's sample command sequences (test/cluster/golden/, copies
of the spec samples) on a test cluster: the entries of a sample, a command
run with the sample's node names, and the normalisation of what differs from
run to run (node names, UUIDs, times, job ids, column widths)."""

import os
import re

import pytest

# the samples' OS: Debian's ganeti-os-noop
NOOP = "/usr/share/ganeti/os/noop"
needs_noop = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")
SAMPLE_NODES = ("node1.example.com", "node2.example.com")

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_NODE_LIST = re.compile(r"node\d\.example\.com(,node\d\.example\.com)+")
# the time stamp a job's log line starts with
STAMP = re.compile(r"(?m)^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} ")


def entries(path):
    """[(command line, exit code, stdout, stderr)] of a sample file."""
    with open(path) as fd:
        text = fd.read()
    return [(cmd, int(code), out, err) for cmd, code, out, err in re.findall(
        r"^\$ (.*?)\n\[exit (\d+)\]\n--- stdout\n(.*?)--- stderr\n(.*?)\n(?=^\$ |\Z)",
        text, re.S | re.M)]


def normalise(text, collapse):
    text = _UUID.sub("<UUID>", text)
    text = _TIME.sub("<TIME>", text)
    text = re.sub(r"JobID: \d+", "JobID: <ID>", text)
    text = re.sub(r"Output from job \d+ follows\n-+", "Output from job <ID> follows", text)
    text = re.sub(r"(?m)^\d+$", "<ID>", text)             # --print-jobid
    # Ganeti's job executor: waiting, failed, submitted ("N: NAME")
    text = re.sub(r"\b(Waiting for job|Job) \d+ (for|failed)\b", r"\1 <ID> \2", text)
    text = re.sub(r"(?m)^\d+(: \S+)$", r"<ID>\1", text)
    # a group's nodes come in the order of their (random) UUIDs
    text = _NODE_LIST.sub(lambda m: ",".join(sorted(m.group(0).split(","))), text)
    if collapse:
        text = re.sub(r" +", " ", text)
    return text


def run_as_sample(vc, argv, node=None):
    """Run a command of the sample (sample names) on ``node`` (by default the
    node that was master first); (code, stdout, stderr) in the sample's
    names, and whether names of other lengths were replaced (columns then
    differ in width)."""
    proc = (node or vc.nodes[0]).run(*to_our_names(vc, argv))
    out, err = proc.stdout, proc.stderr
    renamed = any(n.name in out + err for n in vc.nodes)
    return proc.returncode, to_sample_names(vc, out), to_sample_names(vc, err), renamed


def to_our_names(vc, argv):
    """A command of the sample with the cluster's node names."""
    for theirs, node in zip(SAMPLE_NODES, vc.nodes):
        argv = [word.replace(theirs, node.name) for word in argv]
    return argv


def to_sample_names(vc, text):
    """Output of the cluster with the sample's node names."""
    for theirs, node in zip(SAMPLE_NODES, vc.nodes):
        text = text.replace(node.name, theirs)
    return text


_JOB_ID = re.compile(r"JobID: (\d+)")
_PRINTED_JOB_ID = re.compile(r"^(\d+)(?:: \S+)?$", re.M)


def job_ids(cmdline, out, err):
    """The job ids a command printed: "JobID: N" (stderr) and, with --submit
    or --print-jobid, "N" or a multi-item --submit's "N: NAME" (stdout)."""
    ids = _JOB_ID.findall(err)
    if "--submit" in cmdline or "--print-jobid" in cmdline:
        ids += _PRINTED_JOB_ID.findall(out)
    return [int(i) for i in ids]


def replay(vc, path, job_map=None, before=None):
    """Run the commands of a sample on the cluster, in order; yields (command
    line, argv, Ganeti's (code, stdout, stderr), ours, renamed as in
    run_as_sample). A job id of Ganeti's that a gnt-job command names is
    replaced by the id of our job printed at the same place (ids no command
    printed stay as they are); command lines with shell syntax run with sh;
    the capturer's comments are dropped. ``job_map`` (a dict), if given, gets
    the pairs Ganeti's job id -> ours as they come. ``before`` (a function),
    if given, is called with each command line before the command runs. A
    command line "@node2 CMD" runs CMD on the second node, as the sample's
    capturer did."""
    import shlex
    ours = {} if job_map is None else job_map
    for cmdline, code, out, err in entries(path):
        err = re.sub(r"\n(# .*\n)+$", "", err)
        node = None
        if cmdline.startswith("@node2 "):
            node = vc.nodes[1]
        argv = shlex.split(cmdline[len("@node2 "):] if node else cmdline)
        if before:
            before(cmdline)
        if argv[:1] == ["gnt-job"]:
            argv = [str(ours.get(int(word), word)) if word.isdigit() else word
                    for word in argv]
        if re.search(r"\$\(|^for | \| ", cmdline):      # shell syntax: run it with sh
            argv = ["sh", "-c", cmdline]
        got_code, got_out, got_err, renamed = run_as_sample(vc, argv, node)
        ours.update(zip(job_ids(cmdline, out, err), job_ids(cmdline, got_out, got_err)))
        yield cmdline, argv, (code, out, err), (got_code, got_out, got_err), renamed


def matches(expected, got, renamed):
    """Whether our (code, stdout, stderr) is Ganeti's once both are normalised."""
    return (got[0], normalise(got[1], renamed), normalise(got[2], renamed)) == \
        (expected[0], normalise(expected[1], renamed), normalise(expected[2], renamed))


def difference(cmdline, got, expected):
    """The text of a failed comparison: ours and Ganeti's (code, stdout, stderr)."""
    return ("$ %s\n[exit %s, Ganeti's %s]\n--- ours\n%s%s--- Ganeti's\n%s%s"
            % (cmdline, got[0], expected[0], got[1], got[2], expected[1], expected[2]))


def job_text(text, table=True):
    """Job output normalised: the sample's normalisation, plus job ids in
    messages, reason trail time stamps (nanoseconds), deltas, the interruptible
    delay's socket and, for a ``table``, column widths."""
    text = normalise(STAMP.sub("", text), False)
    text = re.sub(r"\d{16,}", "<NS>", text)
    text = re.sub(r"job=\d+;", "job=<ID>;", text)
    text = re.sub(r"\b([Jj]ob(?: ID:?)?) \d+", r"\1 <ID>", text)
    text = re.sub(r"(<TIME>)\.\d{6}", r"\1", text)
    text = re.sub(r"\(delta -?[\d.]+s\)", "(delta <S>)", text)
    text = re.sub(r"processing time: [\d.]+ seconds", "processing time: <S> seconds", text)
    text = re.sub(r"\['/tmp/[^']+/sock'\]", "[<SOCKET>]", text)
    text = re.sub(r"Archived \d+ jobs", "Archived <N> jobs", text)
    if not table:
        return text
    return re.sub(r"(?m)^ ", "", re.sub(r" +", " ", text))


def _job_info(text):
    """gnt-job info as data (YAML), each opcode's input fields split off:
    (the data without them, [input fields of each opcode])."""
    import yaml
    jobs = yaml.safe_load(job_text(text, table=False))
    inputs = []
    for job in jobs:
        for op in job.get("Opcodes", []) if isinstance(job, dict) else []:
            inputs.append(op.pop("Input fields") or {})
    return jobs, inputs


def job_info_matches(got, expected):
    """Same text apart from the input fields, and the same values of the
    input fields both have (not the UUIDs Ganeti's logical units add)."""
    def text_without_inputs(text):
        return re.sub(r"(?m)^( +)Input fields: \n(\1  .*\n)*", r"\1Input fields:\n",
                      job_text(text, table=False))
    if text_without_inputs(got) != text_without_inputs(expected):
        return False
    (got_jobs, got_inputs), (jobs, inputs) = _job_info(got), _job_info(expected)
    if got_jobs != jobs or len(got_inputs) != len(inputs):
        return False
    for ours, theirs in zip(got_inputs, inputs):
        common = [k for k in theirs if k in ours and not re.search(r"_uuids?$", k)]
        if not common or any(ours[k] != theirs[k] for k in common):
            return False
    return True


SAMPLE_IPS = ("127.0.1.1", "127.0.1.2")
_MAC = re.compile(r"\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b")


def on_test_bed(text, vc):
    """Output of a vcluster.py cluster normalised for a comparison with the
    sample's: the nodes' root directories dropped, their addresses the
    sample's, then normalise() (column widths collapsed), MAC addresses and
    the spaces at the ends of lines."""
    text = re.sub(re.escape(vc.base) + r"/[^/]+(?=/)", "", text)
    for ours, theirs in zip([n.ip for n in vc.nodes], SAMPLE_IPS):
        text = text.replace(ours, theirs)
    text = normalise(STAMP.sub("", text), True)
    text = _MAC.sub("<MAC>", text)
    return re.sub(r"(?m)^ | $", "", text)


def ganeti_with(*pairs):
    """For a table of differences: our answer is Ganeti's with (regular
    expression, replacement) pairs applied to its standard output."""
    def ours(expected):
        out = expected[1]
        for pattern, repl in pairs:
            out = re.sub(pattern, repl, out, flags=re.M)
        return expected[0], out, expected[2]
    return ours


def runner_of(vc, commands):
    """A ``before`` function for replay(): the commands (argv lists in the
    sample's names) of ``commands`` {command line: [argv, ...]} run once,
    before that command line's first entry; each must succeed."""
    pending = dict(commands)

    def run(cmdline):
        for argv in pending.pop(cmdline, []):
            code, out, err, _ = run_as_sample(vc, argv)
            assert code == 0, (argv, out, err)
    return run


def compare(vc, path, different, before=None, adjust=None, norm=on_test_bed):
    """Replay the sample ``path`` and return the differences found (texts of
    difference()). ``different`` {(command line, which time it comes): our
    answer, a function of Ganeti's giving it, None for any success or an exit
    code} holds
    where this project answers otherwise on purpose; ``adjust(argv, result)``
    may reorder what is run-dependent in both answers; ``norm(text, vc)``
    normalises each stream; an int in ``different`` is the exit code wanted
    where the report itself is this project's. gnt-job info is compared with
    job_info_matches."""
    failures = []
    times = {}
    for cmdline, argv, expected, got, _ in replay(vc, path, before=before):
        times[cmdline] = times.get(cmdline, 0) + 1
        key = (cmdline, times[cmdline])
        if key in different:
            ours = different[key]
            if ours is None or isinstance(ours, int):
                if got[0] != (ours or 0):
                    failures.append(difference(cmdline, got, expected))
                continue
            expected = ours(expected) if callable(ours) else ours
        if adjust:
            expected, got = adjust(argv, expected), adjust(argv, got)
        if argv[:2] == ["gnt-job", "info"] and expected[0] == 0:
            same = got[0] == 0 and got[2] == expected[2] and \
                job_info_matches(got[1], expected[1])
        else:
            same = [got[0]] + [norm(t, vc) for t in got[1:]] == \
                [expected[0]] + [norm(t, vc) for t in expected[1:]]
        if not same:
            failures.append(difference(cmdline, got, expected))
    return failures


def init_like_sample(vc, list_oses=False):
    """Set up a vcluster.py cluster as the samples' (Ganeti's default instance
    policy, fake hypervisor, disk templates diskless and file, NIC link
    gntbr0) and add its second node; ``list_oses``: a gnt-os list between the
    two, as the sample's second job."""
    import vcluster
    m, n2 = vc.nodes
    m.run("gnt-cluster", "init", "--enabled-hypervisors=fake", "--no-lvm-storage",
          "--enabled-disk-templates=diskless,file", "--master-netdev=lo",
          "--nic-parameters=link=gntbr0", vcluster.CLUSTER_NAME, check=True)
    if list_oses:
        m.run("gnt-os", "list", check=True)
    vc.add_node(n2)


def add_sample_instances(vc):
    """The samples' instances: inst1 (diskless) and inst2 (file, 1 GiB) running
    on the first node, inst3 (file, 1 and 2 GiB) stopped on the second."""
    m, n2 = vc.nodes
    for name, node, disk in (("inst1", m, ["-t", "diskless"]),
                             ("inst2", m, ["-t", "file", "-s", "1G"]),
                             ("inst3", n2, ["-t", "file", "--disk", "0:size=1G",
                                            "--disk", "1:size=2G", "--no-start"])):
        m.run("gnt-instance", "add", "-n", node.name, "-o", "noop", "--no-name-check",
              "--no-ip-check", *disk, name, check=True)


def sample_vcluster(setup=None):
    """A context manager: a two-node vcluster.py cluster set up as the
    samples' (init_like_sample), then by ``setup(vc)``; removed at the end."""
    import contextlib
    import vcluster

    @contextlib.contextmanager
    def cluster():
        vc = vcluster.VirtualCluster(2)
        try:
            init_like_sample(vc)
            if setup:
                setup(vc)
            yield vc
        finally:
            vc.cleanup()
    return cluster()
