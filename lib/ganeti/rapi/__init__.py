"""The remote API (RAPI v2): ganeti-rapi's users, HTTPS server and resources.

A client of the master daemon over LUXI, as Ganeti's is; the resources answer
as Ganeti 3.0's do (see doc/rapi.rst), so Ganeti's client library, htools and
the tools built on them work against this cluster unchanged.
"""

AUTH_REALM = "Ganeti Remote API"
ACCESS_WRITE = "write"
ACCESS_READ = "read"
VERSION = 2
