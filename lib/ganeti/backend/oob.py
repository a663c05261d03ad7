"""Node-side: run an out-of-band (OOB) helper program for the master.

The master asks its own node daemon to run ``PROGRAM COMMAND NODE`` (the
node's ``oob_program`` parameter); the helper talks to the node's management
board (IPMI, ...) and answers JSON on stdout (doc/oob.rst).
"""

from ganeti import constants
from ganeti.backend.common import fail
from ganeti.utils import process


def run_oob(oob_program, command, remote_node, timeout):
    """Run ``oob_program command remote_node`` with a timeout (seconds); returns
    its stdout parsed as JSON, None when it printed nothing."""
    if not isinstance(oob_program, str) or not oob_program:
        fail("Invalid out-of-band program %r", oob_program)
    if command not in constants.OOB_COMMANDS:
        fail("Invalid out-of-band command %r", command)
    if not isinstance(remote_node, str) or not remote_node:
        fail("Invalid node name %r", remote_node)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        fail("Invalid out-of-band timeout %r", timeout)
    result = process.run_cmd([oob_program, command, remote_node], reset_env=True,
                             timeout=timeout)
    if result.failed:
        reason = result.fail_reason
        if result.timed_out:
            reason += " after %s seconds" % timeout
        fail("'%s' failed with reason '%s'; output: %s", " ".join(result.cmd), reason,
             result.output)
    return parse_output(oob_program, result.stdout)


def parse_output(oob_program, stdout):
    """The helper's stdout as JSON (None for no output); RpcFail if it is not
    JSON. Whitespace alone counts as no output."""
    if not stdout.strip():
        return None
    from ganeti import serializer
    try:
        return serializer.load_json(stdout)
    except ValueError as err:
        fail("Out-of-band program '%s' returned invalid JSON (%s): %s", oob_program, err,
             stdout.strip()[:200])


PROCEDURES = {"run_oob": run_oob}
