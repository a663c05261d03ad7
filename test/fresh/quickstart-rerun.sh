#!/bin/bash
# A second tools/quickstart must leave the daemons running the code it just
# installed: change the source, re-run, and check that the running masterd
# and noded are new processes that executed the changed code.
#
# It installs to the system, so it runs on a fresh root after a first
# quickstart (from the project root):
#   ../shared/tools/fresh-machine.sh . 'tools/quickstart && bash test/fresh/quickstart-rerun.sh'
# The source tree is restored afterwards and quickstart run once more.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

DAEMONS="ganeti-noded ganeti-masterd"
fail() { printf 'quickstart-rerun: FAIL: %s\n' "$*" >&2; exit 1; }
pid_of() { cat "/var/run/ganeti/$1.pid" 2>/dev/null || echo 0; }
# a zombie counts as gone: in a container nobody may reap the old daemon
alive() { [ "$1" -gt 0 ] && [ -r "/proc/$1/status" ] && ! grep -q '^State:.*Z' "/proc/$1/status"; }
module_of() { echo "lib/ganeti/server/${1#ganeti-}.py"; }

declare -A old_pid
for d in $DAEMONS; do
  old_pid[$d]=$(pid_of "$d")
  alive "${old_pid[$d]}" || fail "$d is not running after the first quickstart"
done

# The change: each daemon's module notes the pid of every process forked from
# it (the daemon detaches with a double fork) in a marker file.
marks=$(mktemp -d)
backup=$(mktemp -d)
restore() {
  for d in $DAEMONS; do cp "$backup/$d.py" "$(module_of "$d")"; done
}
for d in $DAEMONS; do
  cp "$(module_of "$d")" "$backup/$d.py"
  cat >> "$(module_of "$d")" <<PY

import os as _rerun_os  # added by test/fresh/quickstart-rerun.sh
_rerun_os.register_at_fork(after_in_child=lambda: open("$marks/$d", "a").write(
    "%d\n" % _rerun_os.getpid()))
PY
done
trap restore EXIT

tools/quickstart --skip-deps > "$marks/quickstart.log" 2>&1 ||
  { tail -20 "$marks/quickstart.log" >&2; fail "the second quickstart failed"; }

for d in $DAEMONS; do
  new=$(pid_of "$d")
  alive "$new" || fail "$d is not running after the second quickstart"
  [ "$new" != "${old_pid[$d]}" ] || fail "$d still runs as pid $new (not restarted)"
  ! alive "${old_pid[$d]}" || fail "the old $d (pid ${old_pid[$d]}) still runs"
  grep -qx "$new" "$marks/$d" 2>/dev/null ||
    fail "$d (pid $new) did not run the changed code (marker: $(cat "$marks/$d" 2>/dev/null))"
  echo "quickstart-rerun: $d restarted: pid ${old_pid[$d]} -> $new, running the new code"
done

# put the tree and the installed code back as they were
restore
trap - EXIT
tools/quickstart --skip-deps > "$marks/quickstart.log" 2>&1 ||
  { tail -20 "$marks/quickstart.log" >&2; fail "the third quickstart failed"; }
rm -rf "$marks" "$backup"
echo "quickstart-rerun: OK"
