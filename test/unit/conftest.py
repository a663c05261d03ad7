"""Unit tests import the package from the source tree (also in subprocesses)."""
import os
import sys

LIB = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
sys.path.insert(0, LIB)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in [LIB, os.environ.get("PYTHONPATH", "")] if p)
