"""doc/compatibility.rst is what tools/compat-table generates from the command
tables and Ganeti's --help: it cannot drift from the code."""

import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_compatibility_table_is_current():
    proc = subprocess.run([sys.executable, os.path.join(TOP, "tools", "compat-table"),
                           "--check"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
