"""An ExtStorage provider for the tests: small shell scripts whose volumes are
files in one directory (shared by the nodes of a test cluster, as a SAN would
be): <volume> is a sparse file, whose path attach prints. Each call leaves
a trace in the directory's trace/:

  journal                    "<node> <action> <volume>" per call, in order
  <volume>.env.<action>      the VOL_*/EXTP_* variables of its last <action>
  <volume>.map.<node>        while the volume is attached on <node>
  <volume>.open.<node>       while open there: VOL_OPEN_EXCLUSIVE
  <volume>.info              the metadata setinfo was given

An ext parameter ``fail=<text>`` makes create fail with that text on stderr;
``fail_attach=yes`` makes attach fail (after create made the volume).
"""

import os

ES_DIR = "/srv/ganeti/extstorage"

_PROLOGUE = """#!/bin/sh
set -e
VOLDIR='%(voldir)s'
NODE='%(node)s'
vol="$VOLDIR/$VOL_NAME"
trace="$VOLDIR/trace/$VOL_NAME"
echo "$NODE %(action)s $VOL_NAME" >> "$VOLDIR/trace/journal"
env | grep -E '^(VOL_|EXTP_)' | sort > "$trace.env.%(action)s"
"""

_BODIES = {
    "create": """if [ -n "$EXTP_FAIL" ]; then echo "create refused: $EXTP_FAIL" >&2; exit 1; fi
if [ -e "$vol" ]; then echo "volume $VOL_NAME exists" >&2; exit 1; fi
truncate -s "${VOL_SIZE}M" "$vol"
echo "created $VOL_NAME"
""",
    "attach": """if [ ! -f "$vol" ]; then echo "no volume $VOL_NAME" >&2; exit 1; fi
if [ -n "$EXTP_FAIL_ATTACH" ]; then echo "cannot map $VOL_NAME" >&2; exit 1; fi
touch "$trace.map.$NODE"
echo "$vol"
""",
    "detach": 'rm -f "$trace.map.$NODE"\n',
    "remove": 'rm -f "$vol" "$trace.info"\n',
    "grow": """if [ "$VOL_NEW_SIZE" -le "$VOL_SIZE" ]; then echo "bad sizes" >&2; exit 1; fi
truncate -s "${VOL_NEW_SIZE}M" "$vol"
""",
    "setinfo": 'printf "%s" "$VOL_METADATA" > "$trace.info"\n',
    "verify": "",
    "open": 'echo "$VOL_OPEN_EXCLUSIVE" > "$trace.open.$NODE"\n',
    "close": 'rm -f "$trace.open.$NODE"\n',
}
PARAMETERS = "fail make create fail with this message\nfail_attach make attach fail\n"


def install(search_dir, name, voldir, node="node", skip=(), optional=True):
    """Write the provider ``name`` into ``search_dir`` (a directory of the
    ExtStorage search path); its volumes go to ``voldir``. ``skip``: scripts
    left out; without ``optional`` only the required ones are written."""
    path = os.path.join(search_dir, name)
    os.makedirs(path, exist_ok=True)
    os.makedirs(os.path.join(voldir, "trace"), exist_ok=True)
    for action, body in _BODIES.items():
        if action in skip or (not optional and action in ("open", "close")):
            continue
        script = os.path.join(path, action)
        with open(script, "w") as fd:
            fd.write(_PROLOGUE % {"voldir": voldir, "node": node, "action": action}
                     + body)
        os.chmod(script, 0o755)
    with open(os.path.join(path, "parameters.list"), "w") as fd:
        fd.write(PARAMETERS)
    return path


def trace(voldir, name):
    """The path of a trace file (see above)."""
    return os.path.join(voldir, "trace", name)


def journal(voldir):
    """The calls made so far: [(node, action, volume)]."""
    try:
        with open(trace(voldir, "journal")) as fd:
            return [tuple(line.split()) for line in fd.read().splitlines()]
    except FileNotFoundError:
        return []


def last_env(voldir, volume, action):
    """{variable: value} of the last ``action`` on ``volume``."""
    with open(trace(voldir, "%s.env.%s" % (volume, action))) as fd:
        return dict(line.split("=", 1) for line in fd.read().splitlines())


def volumes(voldir):
    """The names of the volumes that exist."""
    return sorted(n for n in os.listdir(voldir) if n != "trace")
