"""gnt-instance change-group: Debian's hail plans the move of an instance
into another node group, and the job it returns moves it there."""

import vcluster
# the allocator test's helpers and skip conditions (hail, the noop OS)
from test_iallocator_runs import SHARED_DIR, _add, _log, _pnode, pytestmark  # noqa: F401


def test_change_group_moves_the_instance():
    """gnt-instance change-group: hail plans the move of a sharedfile instance
    into another node group; its job migrates it there. (Two groups of two
    nodes: hail holds the plan to N+1 redundancy, which it checks for every
    node with the instance counted on both its old and its new node, so a
    group of one node fails with FailN1.)"""
    vc = vcluster.VirtualCluster(4)
    try:
        vc.share(SHARED_DIR)
        vc.init("--enabled-hypervisors=fake", "--enabled-disk-templates=sharedfile")
        for node in vc.nodes[1:]:
            vc.add_node(node)
        m = vc.master
        n1, _, n3, n4 = (n.name for n in vc.nodes)
        m.run("gnt-group", "add", "g2", check=True)
        m.run("gnt-group", "assign-nodes", "g2", n3, n4, check=True)
        assert _add(m, "inst4", "-n", n1).returncode == 0
        default = m.run("gnt-group", "list", "--no-headers", "-o", "uuid", "default",
                        check=True).stdout.strip()
        out = m.run("gnt-instance", "change-group", "--to", "default", "inst4")
        assert out.returncode == 1
        assert ("Can't use group(s) '%s' as targets, they are used by the instance"
                " 'inst4'" % default) in out.stderr, out.stderr
        out = m.run("gnt-instance", "change-group", "--to", "nosuchgroup", "inst4")
        assert out.returncode == 1 and "Node group 'nosuchgroup' not found" in out.stderr, \
            out.stderr
        assert _pnode(m, "inst4") == n1

        out = m.run("gnt-instance", "change-group", "inst4")     # to every other group
        assert out.returncode == 0, out.stdout + out.stderr
        log = _log(out.stdout)
        assert " - INFO: Iallocator returned 1 job(s) for changing group of instance" \
            " 'inst4'" in log, log
        assert log[-1] == "Instance 'inst4' changed group successfully.", log
        assert _pnode(m, "inst4") in (n3, n4)
        assert m.run("gnt-instance", "list", "--no-headers", "-o", "pnode.group",
                     "inst4", check=True).stdout.strip() == "g2"
    finally:
        vc.cleanup()
