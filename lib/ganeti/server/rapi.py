"""ganeti-rapi: the remote API daemon (RAPI v2), on the master node only.

It serves HTTPS with rapi.pem (-C/-K choose other files, --no-ssl plain HTTP)
on port 5080, checks users against the users file and asks the master daemon
over LUXI for everything it answers.
"""

import logging
import os

from ganeti import constants, daemon, daemon_util, errors, pathutils
from ganeti.rapi import server, users
from ganeti.utils import net

USAGE = ("%prog [-d] [-f] [-p PORT] [-b ADDRESS] [-i INTERFACE] [--max-clients CLIENTS]"
         " [--no-ssl] [-K SSL_KEY_FILE] [-C SSL_CERT_FILE] [--require-authentication]")


def build_parser():
    parser = daemon.build_option_parser(constants.RAPI, USAGE,
                                        default_port=constants.DEFAULT_RAPI_PORT,
                                        plain_http=True)
    parser.add_option("-i", "--interface", dest="interface", default=None,
                      metavar="INTERFACE", help="Bind to the address of this interface")
    parser.add_option("--max-clients", dest="max_clients", type="int",
                      default=server.DEFAULT_MAX_CLIENTS, metavar="CLIENTS",
                      help="Number of clients served at once (default: %d); others"
                      " wait" % server.DEFAULT_MAX_CLIENTS)
    parser.add_option("-K", "--ssl-key", dest="ssl_key", default=None,
                      metavar="SSL_KEY_FILE", help="SSL key file (default: the"
                      " certificate file)")
    parser.add_option("-C", "--ssl-cert", dest="ssl_cert", default=pathutils.RAPI_CERT_FILE,
                      metavar="SSL_CERT_FILE", help="SSL certificate file (default: %s)"
                      % pathutils.RAPI_CERT_FILE)
    parser.add_option("--require-authentication", dest="require_authentication",
                      action="store_true", default=False,
                      help="Require authentication for every request, reads too")
    return parser


def _address(options):
    if options.interface:
        if options.bind_address:
            raise errors.GenericError("Give either -b or -i, not both")
        address = net.interface_ipv4(options.interface)
        if address is None:
            raise errors.GenericError("Interface %s has no IPv4 address"
                                      % options.interface)
        return address
    return daemon.bind_address(options)


def prepare(options):
    """Refuse to run off the master; load the certificate and bind the port
    (before the daemon reports ready, so failures reach the starter)."""
    if not daemon_util.is_master():
        raise errors.GenericError("This node is not the master: the remote API runs"
                                  " only on the master node")
    if options.max_clients < 1:
        raise errors.GenericError("--max-clients must be at least 1")
    tls = None
    if options.ssl:
        if not os.path.exists(options.ssl_cert):
            raise errors.GenericError("RAPI certificate %s not found" % options.ssl_cert)
        tls = server.TlsFiles(options.ssl_cert, options.ssl_key)
    address = _address(options)
    try:
        return server.RapiServer(address, options.port, tls,
                                 users.UsersFile(pathutils.RAPI_USERS_FILE),
                                 require_auth=options.require_authentication,
                                 max_clients=options.max_clients)
    except OSError as err:
        raise daemon.cannot_listen(address, options.port, err)


def execute(options, ready, stop_event):
    rapi_server = options.prepared
    rapi_server.start()
    logging.info("Listening on %s:%s (%s)", *rapi_server.server_address,
                 "https" if options.ssl else "http")
    ready()
    try:
        while not stop_event.wait(1.0):
            pass
    finally:
        rapi_server.shutdown()


def main():
    parser = build_parser()
    options, args = parser.parse_args()
    if args:
        parser.error("no arguments expected")
    daemon.run_daemon(constants.RAPI, options, prepare, execute)
