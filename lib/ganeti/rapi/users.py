"""The RAPI users file (/var/lib/ganeti/rapi/users), as Ganeti reads it.

One user per line: ``NAME PASSWORD [OPTIONS]``; ``#`` starts a comment. The
password is cleartext, ``{cleartext}PASS``, or ``{HA1}HEX`` with HEX the MD5 of
``NAME:Ganeti Remote API:PASS``. OPTIONS is a comma list of ``write`` and
``read``. The file is read again whenever it changes (checked per request: a
stat is cheaper than a request).
"""

import hashlib
import hmac
import logging
import threading

from ganeti import rapi
from ganeti.utils import io


class User:
    def __init__(self, name, password, options):
        self.name = name
        self.password = password
        self.options = options


def parse(text):
    """{name: User} of a users file's text; malformed lines are skipped."""
    users = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2:
            logging.warning("RAPI users file: ignoring a line with fewer than two fields")
            continue
        options = [o.strip() for o in parts[2].split(",")] if len(parts) > 2 else []
        users[parts[0]] = User(parts[0], parts[1], options)
    return users


def password_matches(user, password):
    """Whether ``password`` (from the request) is ``user``'s."""
    expected = user.password
    if not expected.startswith("{"):
        expected = "{CLEARTEXT}" + expected
    end = expected.find("}", 1)
    if end <= 1:
        logging.warning("RAPI user %s: password with an invalid scheme", user.name)
        return False
    scheme, stored = expected[1:end].upper(), expected[end + 1:]
    if scheme == "CLEARTEXT":
        return hmac.compare_digest(password.encode("utf-8"), stored.encode("utf-8"))
    if scheme == "HA1":
        digest = hashlib.md5(("%s:%s:%s" % (user.name, rapi.AUTH_REALM, password))
                             .encode("utf-8")).hexdigest()
        return hmac.compare_digest(digest, stored.lower())
    logging.warning("RAPI user %s: unknown password scheme %s", user.name, scheme)
    return False


class UsersFile:
    """The users of ``path``, read again when the file changes; no file means
    no users (every request that needs one is refused)."""

    def __init__(self, path):
        self.path = path
        self._stamp = False        # never read
        self._users = {}
        self._lock = threading.Lock()

    def get(self, name):
        with self._lock:
            stamp = io.file_stamp(self.path)
            if stamp != self._stamp:
                self._load(stamp)
            return self._users.get(name)

    def _load(self, stamp):
        self._stamp = stamp
        if stamp is None:
            logging.warning("No RAPI users file at %s", self.path)
            self._users = {}
            return
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fd:
                self._users = parse(fd.read())
        except OSError as err:
            logging.warning("Cannot read the RAPI users file %s: %s", self.path, err)
            self._users = {}
            return
        logging.info("Read the RAPI users file %s (%d users)", self.path, len(self._users))
