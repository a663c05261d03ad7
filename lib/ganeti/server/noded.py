"""ganeti-noded: the node daemon, serving the RPC procedures of backend.py."""

import inspect
import logging
import os
import sys

from ganeti import backend, constants, daemon, errors, pathutils
from ganeti import http as ghttp
from ganeti.http import server as hserver
from ganeti.etcd import autofailover, configsync

USAGE = "%prog [-f] [-d] [-b ADDRESS] [-p PORT]"
# arguments not worth logging (large or secret)
_QUIET_ARGS = frozenset(["upload_file", "write_ssconf_files",
                         # a new cluster certificate with its key (renew-crypto)
                         "cluster_cert_rollover",
                         # they carry private and secret OS parameters
                         "instance_os_add", "instance_run_rename", "os_validate"])


def _describe_args(procedure, args):
    if procedure in _QUIET_ARGS:
        return "<%d arguments>" % len(args)
    text = repr(args)
    return text if len(text) <= 200 else text[:200] + "..."


def handle_rpc(procedure, args):
    """Dispatch one call to its backend function."""
    func = backend.PROCEDURES.get(procedure)
    if func is None:
        raise ghttp.HttpNotFound("Unknown procedure '%s'" % procedure)
    logging.debug("RPC %s(%s)", procedure, _describe_args(procedure, args))
    try:
        inspect.signature(func).bind(*args)
    except TypeError as err:
        raise backend.RpcFail("Invalid arguments for %s: %s" % (procedure, err))
    return func(*args)


def prepare(options):
    """Check the certificate and bind the port (in the detached daemon, before
    it reports ready: failures reach the starting process)."""
    cert = pathutils.NODED_CERT_FILE
    if not os.path.exists(cert):
        raise errors.GenericError(
            "Cluster certificate %s not found: this node is not part of a cluster"
            " (the master copies it when the node is added)" % cert)
    address = daemon.bind_address(options)
    try:
        return hserver.RpcHttpServer(address, options.port, cert, handle_rpc,
                                     procedures=backend.PROCEDURES)
    except OSError as err:
        raise daemon.cannot_listen(address, options.port, err)


def execute(options, ready, stop_event):
    """Serve until SIGTERM/SIGINT or a procedure asks to quit."""
    server = options.prepared
    server.on_quit = stop_event.set
    server.start()
    logging.info("Listening on %s:%s", *server.server_address)
    ready()
    # this node's config.data and ssconf files follow etcd
    configsync.ConfigSync(stop_event).start()
    autofailover.Watcher(stop_event).start()
    try:
        while not stop_event.wait(1.0):
            pass
    finally:
        logging.info("Stopping the node daemon")
        server.shutdown()


def main():
    parser = daemon.build_option_parser(constants.NODED, USAGE,
                                        default_port=constants.DEFAULT_NODED_PORT)
    options, args = parser.parse_args()
    if args:
        parser.error("no arguments expected")
    daemon.run_daemon(constants.NODED, options, prepare, execute)


if __name__ == "__main__":
    sys.exit(main())
