"""Replaying Ganeti 3.0.2's sample command sequences (test/cluster/golden/, copies
of the spec samples) on a test cluster: the entries of a sample, a command
run with the sample's node names, and the normalisation of what differs from
run to run (node names, UUIDs, times, job ids, column widths)."""

import re

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
    # a group's nodes come in the order of their (random) UUIDs
    text = _NODE_LIST.sub(lambda m: ",".join(sorted(m.group(0).split(","))), text)
    if collapse:
        text = re.sub(r" +", " ", text)
    return text


def run_as_sample(vc, argv):
    """Run a command of the sample (sample names) on the cluster's master;
    (code, stdout, stderr) in the sample's names, and whether names of other
    lengths were replaced (columns then differ in width)."""
    names = list(zip(SAMPLE_NODES, [n.name for n in vc.nodes]))
    for theirs, mine in names:
        argv = [word.replace(theirs, mine) for word in argv]
    proc = vc.master.run(*argv)
    out, err = proc.stdout, proc.stderr
    renamed = any(mine in out + err for _, mine in names)
    for theirs, mine in names:
        out, err = out.replace(mine, theirs), err.replace(mine, theirs)
    return proc.returncode, out, err, renamed


_JOB_ID = re.compile(r"JobID: (\d+)")
_PRINTED_JOB_ID = re.compile(r"^(\d+)(?:: \S+)?$", re.M)


def job_ids(cmdline, out, err):
    """The job ids a command printed: "JobID: N" (stderr) and, with --submit
    or --print-jobid, "N" or a multi-item --submit's "N: NAME" (stdout)."""
    ids = _JOB_ID.findall(err)
    if "--submit" in cmdline or "--print-jobid" in cmdline:
        ids += _PRINTED_JOB_ID.findall(out)
    return [int(i) for i in ids]


def replay(vc, path, job_map=None):
    """Run the commands of a sample on the cluster, in order; yields (command
    line, argv, Ganeti's (code, stdout, stderr), ours, renamed as in
    run_as_sample). A job id of Ganeti's that a gnt-job command names is
    replaced by the id of our job printed at the same place (ids no command
    printed stay as they are); command lines with shell syntax run with sh;
    the capturer's comments are dropped. ``job_map`` (a dict), if given, gets
    the pairs Ganeti's job id -> ours as they come."""
    import shlex
    ours = {} if job_map is None else job_map
    for cmdline, code, out, err in entries(path):
        err = re.sub(r"\n(# .*\n)+$", "", err)
        argv = shlex.split(cmdline)
        if argv[:1] == ["gnt-job"]:
            argv = [str(ours.get(int(word), word)) if word.isdigit() else word
                    for word in argv]
        if re.search(r"\$\(|^for | \| ", cmdline):      # shell syntax: run it with sh
            argv = ["sh", "-c", cmdline]
        got_code, got_out, got_err, renamed = run_as_sample(vc, argv)
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
