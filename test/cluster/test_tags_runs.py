"""Tags on a one-node cluster with real daemons, compared with Ganeti 3.0.2's
output for the same invocations (spec samples gnt-cluster.txt, gnt-node.txt,
gnt-instance.txt and errors.txt; node and instance names substituted)."""

import pytest

PREREQ = "Failure: prerequisites not met for this operation:\nerror type: %s, error details:\n%s\n"
INVALID = "Failure: invalid tag(s) given:\n%s\n"


@pytest.fixture(scope="module")
def node(cluster):
    m = cluster.master
    m.run("gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
          "--no-ip-check", "-t", "diskless", "--no-nics", "inst1", check=True)
    return m


def _check(node, argv, code, stdout="", stderr=""):
    proc = node.run(*argv)
    assert (proc.returncode, proc.stdout, proc.stderr) == (code, stdout, stderr), argv


def test_cluster_tags(node):
    _check(node, ["gnt-cluster", "list-tags"], 0)
    _check(node, ["gnt-cluster", "add-tags", "ctag1", "env:test"], 0)
    _check(node, ["gnt-cluster", "list-tags"], 0, "ctag1\nenv:test\n")
    _check(node, ["gnt-cluster", "search-tags", "^env"], 0, "/cluster env:test\n")
    _check(node, ["gnt-cluster", "search-tags", "nomatch"], 1)
    _check(node, ["gnt-cluster", "remove-tags", "ctag1"], 0)
    _check(node, ["gnt-cluster", "list-tags"], 0, "env:test\n")
    _check(node, ["gnt-cluster", "add-tags"], 1, "",
           PREREQ % ("wrong_input", "No tags to be added"))
    _check(node, ["gnt-cluster", "search-tags", "("], 1, "", PREREQ % (
        "wrong_input", "Invalid search pattern '(': missing ), unterminated subpattern"
        " at position 0"))
    with open(node.path("/var/lib/ganeti/ssconf_cluster_tags")) as fd:
        assert fd.read() == "env:test"


def test_node_tags(node):
    name = node.name
    _check(node, ["gnt-node", "list-tags", name], 0)
    _check(node, ["gnt-node", "add-tags", name, "rack:a1", "color=blue"], 1, "",
           INVALID % "Tag contains invalid characters")
    _check(node, ["gnt-node", "list-tags", name], 0)
    _check(node, ["gnt-node", "remove-tags", name, "notatag"], 1, "",
           PREREQ % ("unknown_entity", "Tag(s) 'notatag' not found"))
    _check(node, ["gnt-node", "add-tags", name, "rack:a1", "color:blue"], 0)
    _check(node, ["gnt-node", "list-tags", name], 0, "color:blue\nrack:a1\n")
    _check(node, ["gnt-node", "remove-tags", name, "color:blue"], 0)
    out = node.run("gnt-node", "list", "-o", "name,tags", check=True).stdout
    assert out.splitlines()[1].split() == [name, "rack:a1"]
    _check(node, ["gnt-node", "list-tags", "nosuchnode"], 1, "",
           PREREQ % ("unknown_entity", "Node name nosuchnode not found"))


def test_instance_tags(node):
    _check(node, ["gnt-instance", "list-tags", "inst1"], 0)
    _check(node, ["gnt-instance", "add-tags", "inst1", "web", "prod:yes"], 0)
    _check(node, ["gnt-instance", "list-tags", "inst1"], 0, "prod:yes\nweb\n")
    _check(node, ["gnt-instance", "remove-tags", "inst1", "web"], 0)
    _check(node, ["gnt-instance", "add-tags", "inst1", "bad tag"], 1, "",
           INVALID % "Tag contains invalid characters")
    _check(node, ["gnt-instance", "add-tags", "inst1", ""], 1, "",
           INVALID % "Tags cannot be empty")
    _check(node, ["gnt-instance", "remove-tags", "inst1", "nosuchtag"], 1, "",
           PREREQ % ("unknown_entity", "Tag(s) 'nosuchtag' not found"))
    proc = node.run("gnt-instance", "add-tags", "--submit", "inst1", "extra", check=True)
    assert proc.stdout == "" and proc.stderr.startswith("JobID: ")    # as Ganeti
    job_id = proc.stderr.split()[-1]
    header = "Output from job %s follows" % job_id
    _check(node, ["gnt-job", "watch", job_id], 0, "%s\n%s\n" % (header, "-" * len(header)))
    _check(node, ["gnt-instance", "list", "-o", "name,tags"], 0,
           "Instance Tags\ninst1    extra,prod:yes\n")
    # tags from a file, and a search that finds them on every kind of object
    source = node.path("/tmp-tags")
    with open(source, "w") as fd:
        fd.write("env:file\n")
    _check(node, ["gnt-instance", "add-tags", "--from", source, "inst1"], 0)
    _check(node, ["gnt-cluster", "search-tags", "env:"], 0,
           "/cluster env:test\n/instances/inst1 env:file\n")


def test_selection_by_tags(node):
    """startup/shutdown --tags and --node-tags (inst1 has "extra", its node "rack:a1")."""
    def state():
        return node.run("gnt-instance", "list", "--no-headers", "-o", "status", "inst1",
                        check=True).stdout.strip()
    node.run("gnt-instance", "shutdown", "--tags", "--force-multiple", "extra",
             check=True)
    assert state() == "ADMIN_down"
    node.run("gnt-instance", "startup", "--node-tags", "--force-multiple", "rack:a1",
             check=True)
    assert state() == "running"
    _check(node, ["gnt-instance", "shutdown", "--tags", "--force-multiple", "nosuch"], 1,
           "", PREREQ % ("wrong_input", "Selection filter does not match any instances"))
    _check(node, ["gnt-instance", "startup", "--pri-node-tags", "--force-multiple"], 1,
           "", PREREQ % ("wrong_input", "No node tags passed"))
