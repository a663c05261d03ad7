"""Out-of-band management (OpOobCommand): power nodes on, off or cycle, ask
their power state or health through the ``oob_program`` node parameter.

The master runs the helper for every node, through its own node daemon
(``run_oob``), as ``PROGRAM COMMAND NODE``; the protocol is in doc/oob.rst.
"""

import logging
import time

from ganeti import constants, errors, locking
from ganeti.cmdlib.base import NoHooksLU, expand_node_names
from ganeti.query import RS_NODATA, RS_NORMAL, RS_UNAVAIL
from ganeti.utils import text

#: commands never run for the master unless it is named: it would cut the
#: branch the cluster sits on
_SKIP_MASTER = (constants.OOB_POWER_OFF, constants.OOB_POWER_CYCLE)
#: commands that must not answer anything
_NO_PAYLOAD = (constants.OOB_POWER_ON, constants.OOB_POWER_OFF, constants.OOB_POWER_CYCLE)


def oob_program(cfg, node):
    """The node's out-of-band program ("" when it has none)."""
    cluster = cfg.get_cluster_info()
    return cluster.fill_nd(node, cfg.get_node_group(node.group)).get("oob_program") or ""


def payload_errors(command, payload):
    """What is wrong with a helper's answer to ``command`` (a list of texts,
    empty when the answer is valid)."""
    errs = []
    if command == constants.OOB_HEALTH:
        if not isinstance(payload, list):
            errs.append("command 'health' is expected to return a list but got %s"
                        % type(payload))
        else:
            for entry in payload:
                if not (isinstance(entry, list) and len(entry) == 2
                        and isinstance(entry[0], str)):
                    errs.append("health item %s is not an [item, status] pair"
                                % (entry,))
                elif entry[1] not in constants.OOB_STATUSES:
                    errs.append("health item '%s' has invalid status '%s'" % tuple(entry))
    elif command == constants.OOB_POWER_STATUS:
        if not isinstance(payload, dict):
            errs.append("power-status is expected to return a dict but got %s"
                        % type(payload))
        elif not isinstance(payload.get(constants.OOB_POWER_STATUS_POWERED), bool):
            # Ganeti fails later on such an answer; say so here
            errs.append("power-status is expected to return a boolean '%s' but got %r"
                        % (constants.OOB_POWER_STATUS_POWERED,
                           payload.get(constants.OOB_POWER_STATUS_POWERED)))
    elif command in _NO_PAYLOAD and payload is not None:
        errs.append("%s is expected to not return payload but got '%s'"
                    % (command, payload))
    return errs


def check_payload(command, payload):
    """OpExecError with Ganeti's text when the helper's answer is not valid."""
    errs = payload_errors(command, payload)
    if errs:
        raise errors.OpExecError("Check of out-of-band payload failed due to %s"
                                 % ", ".join(errs))


class LUOobCommand(NoHooksLU):
    """Run an out-of-band command for nodes; the result has one entry per node
    (sorted by name): [[RS_NORMAL, name], [status, the helper's answer]], status
    RS_UNAVAIL for a node without a helper, RS_NODATA when the helper failed."""
    REQ_BGL = False

    def expand_names(self):
        cfg, op = self.cfg, self.op
        self.wanted = expand_node_names(cfg, op.node_names, op.node_uuids)
        self.needed_locks[locking.LEVEL_NODE] = self.wanted or locking.ALL_SET

    def check_prereq(self):
        cfg, op = self.cfg, self.op
        master = cfg.get_master_node()
        if self.wanted:
            names = self.wanted
            if op.command in _SKIP_MASTER and master in names:
                program = oob_program(cfg, cfg.get_node_info(master))
                if program:
                    extra = ("run '%s %s %s' if you want to operate on the master"
                             " regardless" % (program, op.command, master))
                else:
                    extra = "it does not support out-of-band operations"
                raise errors.OpPrereqError("Operating on the master node %s is not allowed"
                                           " for %s; %s" % (master, op.command, extra),
                                           errors.ECODE_INVAL)
        else:
            names = [name for name in cfg.get_node_list()
                     if not (op.command in _SKIP_MASTER and name == master)]
        self.nodes = []
        for name in names:
            node = cfg.get_node_info(name)
            if node is None:
                raise errors.OpPrereqError("Node %s not found" % name, errors.ECODE_NOENT)
            if (op.command == constants.OOB_POWER_OFF and not op.ignore_status
                    and not node.offline):
                raise errors.OpPrereqError("Cannot power off node %s because it is not"
                                           " marked offline" % name, errors.ECODE_STATE)
            self.nodes.append(node)
        self.nodes = text.nice_sort(self.nodes, key=lambda n: n.name)

    def exec(self, feedback_fn):
        op = self.op
        master = self.cfg.get_master_node()
        result = []
        for idx, node in enumerate(self.nodes):
            entry = [[RS_NORMAL, node.name]]
            result.append(entry)
            program = oob_program(self.cfg, node)
            if not program:
                entry.append([RS_UNAVAIL, None])
                continue
            logging.info("Running out-of-band command '%s' with '%s' for %s", op.command,
                         program, node.name)
            res = self.rpc.call_run_oob(master, program, op.command, node.name,
                                        op.timeout)
            if res.fail_msg:
                self.log_warning("Out-of-band RPC failed on node '%s': %s", node.name,
                                 res.fail_msg)
                entry.append([RS_NODATA, None])
                continue
            try:
                check_payload(op.command, res.payload)
            except errors.OpExecError as err:
                self.log_warning("Payload returned by node '%s' is not valid: %s",
                                 node.name, err)
                entry.append([RS_NODATA, None])
                continue
            self._record(node, res.payload)
            entry.append([RS_NORMAL, res.payload])
            if op.command == constants.OOB_POWER_ON and idx < len(self.nodes) - 1:
                # let the power supplies settle before the next node draws current
                time.sleep(op.power_delay)
        return result

    def _record(self, node, payload):
        """Log what the helper said and keep a changed power state in the config."""
        command = self.op.command
        if command == constants.OOB_HEALTH:
            for item, status in payload:
                if status in (constants.OOB_STATUS_WARNING, constants.OOB_STATUS_CRITICAL):
                    self.log_warning("Item '%s' on node '%s' has status '%s'", item,
                                     node.name, status)
        elif command == constants.OOB_POWER_STATUS:
            powered = payload[constants.OOB_POWER_STATUS_POWERED]
            if powered != node.powered:
                logging.warning("Recorded power state (%s) of node '%s' does not match"
                                " actual power state (%s)", node.powered, node.name,
                                powered)
        elif command in (constants.OOB_POWER_ON, constants.OOB_POWER_OFF):
            current = self.cfg.get_node_info(node.name)
            current.powered = command == constants.OOB_POWER_ON
            self.cfg.update(current)
