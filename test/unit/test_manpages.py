"""The man pages in doc/man/ against the programs they describe.

Every gnt-* tool and daemon has a page; a gnt-* page documents exactly the
commands of the tool, and each command's synopsis exactly the options its
parser accepts (so a page cannot silently drift from the code); a daemon's
synopsis lists exactly the options of its --help. Pages name only options that
exist, refer only to pages we have, use only placeholders that make
substitutes, and build with rst2man and render with groff without a warning.
"""

import functools
import importlib
import optparse
import os
import re
import shutil
import subprocess
import sys

import pytest

from ganeti import cli

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAN_DIR = os.path.join(ROOT, "doc", "man")
PROGRAM_DIRS = {"gnt-": os.path.join(ROOT, "scripts"),
                "ganeti-": os.path.join(ROOT, "daemons")}
# Daemon-side programs that read their input from stdin and take no options.
NO_OPTION_PROGRAMS = {"ganeti-prepare-node-join"}
OPTION_RE = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
PROGRAM_RE = re.compile(r"\b((?:gnt|ganeti)-[a-z][a-z-]*[a-z])\b")
PLACEHOLDER_RE = re.compile(r"@([A-Z_]+)@")
HELP_OPTIONS = {"-h", "--help", "--version"}


def _programs():
    """Names of the installable programs (what make install puts in sbin)."""
    names = set()
    for prefix, directory in PROGRAM_DIRS.items():
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if name.startswith(prefix) and os.path.isfile(path) and "." not in name \
                    and not name.endswith("~"):
                names.add(name)
    return names


def _pages():
    return sorted(n[:-4] for n in os.listdir(MAN_DIR) if n.endswith(".rst"))


def _read(page):
    with open(os.path.join(MAN_DIR, page + ".rst"), encoding="utf-8") as fd:
        return fd.read()


def _sections(text, underline):
    """[(title, body lines)] for headings underlined with ``underline`` only."""
    lines = text.splitlines()
    heads = []
    for i in range(1, len(lines)):
        title, under = lines[i - 1], lines[i]
        overlined = i >= 2 and lines[i - 2] and set(lines[i - 2]) == {underline}
        if title.strip() and under and set(under) == {underline} \
                and len(under) >= len(title.rstrip()) and not overlined:
            heads.append((i - 1, title.strip()))
    result = []
    for k, (start, title) in enumerate(heads):
        end = heads[k + 1][0] if k + 1 < len(heads) else len(lines)
        result.append((title, lines[start + 2:end]))
    return result


def _synopsis_options(body):
    """Options named in the first line block (the '| ...' lines) of a section."""
    block, started = [], False
    for line in body:
        if line.startswith("| "):
            started = True
            block.append(line)
        elif started and line.strip():
            break
    return set(OPTION_RE.findall(" ".join(block)))


def _tool_module(page):
    return importlib.import_module("ganeti.client.gnt_%s" % page[len("gnt-"):])


def _parser_options(options):
    """Option strings of a command's own options (without the hidden ones)."""
    found = set()
    for option in options:
        if option.help != optparse.SUPPRESS_HELP:
            found.update(option._short_opts + option._long_opts)
    return found


def _common_options():
    return _parser_options(cli.COMMON_OPTS)


@functools.lru_cache(maxsize=None)
def _help_options(page):
    """Option strings that a daemon's --help lists."""
    path = os.path.join(PROGRAM_DIRS["ganeti-"], page)
    proc = subprocess.run([sys.executable, path, "--help"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    found = set()
    for line in proc.stdout.splitlines():
        if line.startswith("  -"):
            found.update(OPTION_RE.findall(re.split(r"\s{2,}", line.strip())[0]))
    return found


@functools.lru_cache(maxsize=None)
def _allowed_options(page):
    if page.startswith("gnt-"):
        allowed = set(_common_options())
        for entry in _tool_module(page).COMMANDS.values():
            allowed |= _parser_options(entry[2])
        return allowed
    if page in NO_OPTION_PROGRAMS:
        return set()
    return _help_options(page)


GNT_PAGES = [p for p in _pages() if p.startswith("gnt-")]
DAEMON_PAGES = [p for p in _pages() if p.startswith("ganeti-")
                and p not in NO_OPTION_PROGRAMS]


def test_every_program_has_a_page_and_every_page_a_program():
    assert _pages(), "no man page sources in doc/man"
    assert set(_pages()) == _programs()


@pytest.mark.parametrize("page", _pages())
def test_page_has_ganeti_sections_in_order(page):
    text = _read(page)
    titles = [title for title, _ in _sections(text, "=")]
    expected_head = ["SYNOPSIS", "DESCRIPTION"]
    if page.startswith("gnt-"):
        expected_head.append("COMMANDS")
    assert titles[:len(expected_head)] == expected_head
    assert titles[-2:] == ["REPORTING BUGS", "SEE ALSO"]
    assert ":Manual section: 8" in text
    # the title block: the program's name, then its one-line summary
    assert text.splitlines()[1].strip() == page


@pytest.mark.parametrize("page", GNT_PAGES)
def test_gnt_page_documents_exactly_the_commands_and_options(page):
    commands = _tool_module(page).COMMANDS
    body = dict(_sections(_read(page), "="))["COMMANDS"]
    documented = {title.lower(): lines for title, lines in
                  _sections("\n".join(body), "~")}
    assert sorted(documented) == sorted(commands)
    wrong = {}
    for name, entry in sorted(commands.items()):
        expected = _parser_options(entry[2]) - HELP_OPTIONS
        found = _synopsis_options(documented[name])
        if found != expected:
            wrong[name] = {"undocumented": sorted(expected - found),
                           "not accepted": sorted(found - expected)}
    assert not wrong, ("doc/man/%s.rst: each command's synopsis (its '| ' lines) must"
                       " name exactly the options of its parser: %s" % (page, wrong))


@pytest.mark.parametrize("page", GNT_PAGES)
def test_gnt_page_describes_the_common_options(page):
    description = "\n".join(dict(_sections(_read(page), "="))["DESCRIPTION"])
    assert _common_options() <= set(OPTION_RE.findall(description))


@pytest.mark.parametrize("page", DAEMON_PAGES)
def test_daemon_synopsis_lists_exactly_its_options(page):
    synopsis = dict(_sections(_read(page), "="))["SYNOPSIS"]
    found, expected = _synopsis_options(synopsis), _help_options(page) - HELP_OPTIONS
    assert found == expected, ("doc/man/%s.rst: the SYNOPSIS must name exactly the"
                               " options of --help; undocumented %s, not accepted %s"
                               % (page, sorted(expected - found), sorted(found - expected)))


@pytest.mark.parametrize("page", _pages())
def test_page_names_only_real_options(page):
    """An option may appear only if its program has it (Ganeti's extra ones not)."""
    own = _allowed_options(page) | HELP_OPTIONS
    stray = []
    for line in _read(page).splitlines():
        allowed = set(own)
        for other in set(PROGRAM_RE.findall(line)) - {page}:
            if other in _pages():
                allowed |= _allowed_options(other)
        stray.extend(opt for opt in OPTION_RE.findall(line) if opt not in allowed)
    assert not stray


@pytest.mark.parametrize("page", _pages())
def test_page_refers_only_to_pages_we_have(page):
    see_also = "\n".join(dict(_sections(_read(page), "="))["SEE ALSO"])
    named = re.findall(r"\*\*((?:gnt|ganeti)-[\w-]+)\*\*\\ \(8\)", see_also)
    assert named and set(named) <= set(_pages()) - {page}


def _substitutions():
    """Placeholders the Makefile's do_subst replaces, with sample values."""
    with open(os.path.join(ROOT, "Makefile.am"), encoding="utf-8") as fd:
        makefile = fd.read()
    names = re.findall(r"s\|@([A-Z_]+)\[@\]\|", makefile)
    assert names
    return {name: "/sample/%s" % name.lower() for name in names}


@pytest.mark.parametrize("page", _pages())
def test_page_placeholders_are_substituted_by_make(page):
    assert set(PLACEHOLDER_RE.findall(_read(page))) <= set(_substitutions())


def _build(page, tmp_path):
    """The page as make builds it: placeholders substituted, then rst2man."""
    rst2man = shutil.which("rst2man") or shutil.which("rst2man.py")
    if rst2man is None:
        pytest.skip("rst2man is not installed (Debian: python3-docutils)")
    values = _substitutions()
    source = tmp_path / (page + ".rst")
    source.write_text(PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], _read(page)))
    target = tmp_path / (page + ".8")
    proc = subprocess.run([rst2man, "--halt=warning", "--exit-status=warning",
                           str(source), str(target)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return target


@pytest.mark.parametrize("page", _pages())
def test_page_builds_and_renders_without_warnings(page, tmp_path):
    target = _build(page, tmp_path)
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed (Debian: groff-base)")
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-rLL=80n", str(target)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, LC_ALL="C.UTF-8"))
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    rendered = re.sub(r".\x08", "", proc.stdout)
    assert page in rendered and "SYNOPSIS" in rendered and "SEE ALSO" in rendered


def test_man_reads_a_built_page(tmp_path):
    """What a user runs: man -l on the page make builds."""
    target = _build("gnt-instance", tmp_path)
    if shutil.which("man") is None:
        pytest.skip("man is not installed (Debian: man-db)")
    proc = subprocess.run(["man", "--warnings", "-l", str(target)], capture_output=True,
                          text=True, timeout=120,
                          env=dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80",
                                   LC_ALL="C.UTF-8"))
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    assert "gnt-instance" in proc.stdout and "COMMANDS" in proc.stdout
