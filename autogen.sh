#!/bin/sh
# Generate configure and Makefile.in from configure.ac and Makefile.am.
# Needs autoconf and automake (Debian: apt-get install autoconf automake).
set -e
cd "$(dirname "$0")"
if ! command -v autoreconf >/dev/null 2>&1; then
  echo "autogen.sh: autoreconf not found; install autoconf and automake" >&2
  exit 1
fi
autoreconf -fi
