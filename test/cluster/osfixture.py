"""A throw-away OS definition (API 20) for cluster tests.

Its create script records its environment in ``env-<instance>`` inside the
definition's directory (outside every node root, so a search of the cluster's
files for a secret does not find this record), touches ``started-<instance>``
and sleeps OSP_DELAY seconds. Its verify script refuses OSP_FLAVOUR=bad.
OS definitions are shared by every node of the machine (constants.OS_SEARCH_PATH),
so the definition lives in /srv/ganeti/os under a name unique to this process.
"""

import os
import shutil

import pytest

OS_DIR = "/srv/ganeti/os"

_CREATE = """#!/bin/sh
env | sort > "env-$INSTANCE_NAME"
touch "started-$INSTANCE_NAME"
sleep "${OSP_DELAY:-0}"
exit 0
"""
_VERIFY = """#!/bin/sh
if [ "$OSP_FLAVOUR" = "bad" ]; then
  echo "flavour 'bad' is not supported" >&2
  exit 1
fi
exit 0
"""
_NOOP = "#!/bin/sh\nexit 0\n"
PARAMETERS = ["flavour", "password", "token", "delay"]


class RecordingOS:
    """Create with ``RecordingOS()``, remove with ``.remove()``."""

    def __init__(self):
        self.name = "gnttest-osp%d" % os.getpid()
        self.path = os.path.join(OS_DIR, self.name)
        self._made_os_dir = not os.path.isdir(OS_DIR)
        os.makedirs(self.path)
        files = {"ganeti_api_version": "20\n", "create": _CREATE, "verify": _VERIFY,
                 "export": _NOOP, "import": _NOOP, "rename": _NOOP,
                 "parameters.list": "".join("%s test parameter\n" % p
                                            for p in PARAMETERS)}
        for name, text in files.items():
            path = os.path.join(self.path, name)
            with open(path, "w") as fd:
                fd.write(text)
            os.chmod(path, 0o755 if text.startswith("#!") else 0o644)

    def env(self, instance):
        """The environment the create script saw for ``instance`` as a dict."""
        with open(os.path.join(self.path, "env-" + instance)) as fd:
            return dict(line.rstrip("\n").split("=", 1) for line in fd if "=" in line)

    def started(self, instance):
        return os.path.exists(os.path.join(self.path, "started-" + instance))

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)
        if self._made_os_dir:
            try:
                os.rmdir(OS_DIR)
            except OSError:
                pass


@pytest.fixture(scope="module")
def recos():
    """A RecordingOS for the tests of one module."""
    osdef = RecordingOS()
    try:
        yield osdef
    finally:
        osdef.remove()
