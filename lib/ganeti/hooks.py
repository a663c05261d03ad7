"""Master side of hooks: build the GANETI_* environment and run the hook
scripts on the nodes through RPC (hooks-and-iallocator.md, part A)."""

from ganeti import constants, errors, pathutils


def _env_value(value):
    if value is None:
        return "None"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return " ".join(str(v) for v in value)
    return str(value)


class HooksMaster:
    """Runs the pre and post hooks of one logical unit."""

    def __init__(self, op_id, hpath, htype, build_env_fn, pre_nodes, post_nodes,
                 rpc, cluster_name, master_name, feedback_fn, post_env_fn=None):
        self.op_id = op_id
        self.hpath = hpath
        self.htype = htype
        self.build_env_fn = build_env_fn
        self.post_env_fn = post_env_fn
        self.pre_nodes = list(pre_nodes or [])
        self.post_nodes = list(post_nodes or [])
        self.rpc = rpc
        self.cluster_name = cluster_name
        self.master_name = master_name
        self.feedback_fn = feedback_fn
        self._pre_env = None

    def _base_env(self, phase):
        return {
            "GANETI_HOOKS_VERSION": str(constants.HOOKS_VERSION),
            "GANETI_HOOKS_PHASE": phase,
            "GANETI_HOOKS_PATH": self.hpath,
            "GANETI_OP_CODE": self.op_id,
            "GANETI_OBJECT_TYPE": self.htype,
            "GANETI_CLUSTER": self.cluster_name,
            "GANETI_MASTER": self.master_name,
            "GANETI_DATA_DIR": pathutils.strip_root(pathutils.DATA_DIR),
        }

    def build_env(self, phase):
        env = self._base_env(phase)
        if self._pre_env is None:
            self._pre_env = dict(("GANETI_" + k, _env_value(v))
                                 for k, v in (self.build_env_fn() or {}).items())
        env.update(self._pre_env)
        if phase == constants.HOOKS_PHASE_POST and self.post_env_fn:
            env.update(("GANETI_POST_" + k, _env_value(v))
                       for k, v in (self.post_env_fn() or {}).items())
        return env

    def run_phase(self, phase, nodes=None, quiet=False):
        """Run one phase; a failing pre hook raises HooksAbort, post only warns
        (``quiet``: not even that, the LU reports the results itself)."""
        if nodes is None:
            nodes = self.pre_nodes if phase == constants.HOOKS_PHASE_PRE else self.post_nodes
        if not nodes or not self.hpath:
            return {}
        env = self.build_env(phase)
        results = self.rpc.call_hooks_runner(nodes, self.hpath, phase, env)
        failures = []
        answered = 0
        for node, res in sorted(results.items()):
            if res.offline:
                continue
            if res.fail_msg:
                if not quiet:
                    self.feedback_fn("Communication failure to node %s while running"
                                     " hooks: %s" % (node, res.fail_msg))
                continue
            answered += 1
            for script, status, output in res.data or []:
                if status == constants.HKR_FAIL:
                    failures.append((node, script, output))
        if phase == constants.HOOKS_PHASE_PRE:
            if not answered and results and all(not r.offline for r in results.values()):
                raise errors.HooksFailure("Communication failure to all nodes while running"
                                          " the %s pre hooks" % self.hpath)
            if failures:
                lines = ["%s: %s: %s" % (n, s, (o or "").strip()) for n, s, o in failures]
                raise errors.HooksAbort("Hook script failure:\n" + "\n".join(lines))
        elif not quiet:
            for node, script, output in failures:
                self.feedback_fn("Warning: post hook %s failed on node %s: %s"
                                 % (script, node, (output or "").strip()))
        return results
