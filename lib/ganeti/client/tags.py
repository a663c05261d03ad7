"""The tag commands every gnt-* tool shares: add-tags, remove-tags, list-tags
(and gnt-cluster search-tags), as in Ganeti.

``commands(kind)`` gives the entries of a tool's command table; the cluster's
take no object name, the others take it as their first argument.
"""

import sys

from ganeti import cli, constants, errors, opcodes

TAG_SRC_OPT = cli.cli_option("--from", dest="tags_source", default=None,
                             metavar="TAGS_SOURCE", help="File with tag names")

_CHANGE_OPTS = [TAG_SRC_OPT, cli.PRIORITY_OPT] + cli.SUBMIT_OPTS

# kind -> (argument name in the usage, the words of the descriptions)
_KINDS = {
    constants.TAG_CLUSTER: (None, "the cluster"),
    constants.TAG_NODE: ("<node-name>", "the given node"),
    constants.TAG_INSTANCE: ("<instance-name>", "the given instance"),
    constants.TAG_NODEGROUP: ("<group>", "the given group"),
    constants.TAG_NETWORK: ("<network>", "the given network"),
}


def _split_name(kind, args):
    """(object name or None, the remaining arguments)."""
    if kind == constants.TAG_CLUSTER:
        return None, list(args)
    if not args:
        raise errors.OpPrereqError("no arguments passed to the command",
                                   errors.ECODE_INVAL)
    return args[0], list(args[1:])


def _read_tags(source):
    """The tags of a --from file (one per line; "-": standard input)."""
    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(source) as fd:
                text = fd.read()
        except OSError as err:
            raise errors.OpPrereqError("Cannot read the tags file %s: %s"
                                       % (source, err.strerror or err),
                                       errors.ECODE_ENVIRON)
    return [line.strip() for line in text.splitlines() if line.strip()]


def _tags_given(opts, args):
    tags = list(args)
    if getattr(opts, "tags_source", None):
        tags += _read_tags(opts.tags_source)
    return tags


def list_tags(kind, opts, args):
    name, _ = _split_name(kind, args)
    for tag in sorted(cli.get_client().query_tags(kind, name)):
        cli.to_stdout(tag)
    return constants.EXIT_SUCCESS


def _change_tags(kind, opts, args, op_class, none_given):
    name, rest = _split_name(kind, args)
    tags = _tags_given(opts, rest)
    if not tags:
        raise errors.OpPrereqError(none_given, errors.ECODE_INVAL)
    cli.submit_or_send(op_class(kind=kind, name=name, tags=tags), opts)
    return constants.EXIT_SUCCESS


def add_tags(kind, opts, args):
    return _change_tags(kind, opts, args, opcodes.OpTagsSet, "No tags to be added")


def remove_tags(kind, opts, args):
    return _change_tags(kind, opts, args, opcodes.OpTagsDel, "No tags to be removed")


def search_tags(opts, args):
    """Every (path, tag) matching the pattern; exit code 1 when none does."""
    found = cli.submit_op_code(opcodes.OpTagsSearch(pattern=args[0]), opts=opts)
    if not found:
        return constants.EXIT_FAILURE
    for path, tag in sorted(found):
        cli.to_stdout("%s %s" % (path, tag))
    return constants.EXIT_SUCCESS


def commands(kind):
    """add-tags, list-tags and remove-tags for a tool's command table."""
    arg, what = _KINDS[kind]
    if arg is None:
        one, many, usage_one, usage_many = cli.ARGS_NONE, [cli.ArgSpec("<tag>")], "", \
            "<tag>..."
    else:
        one = [cli.ArgSpec(arg, 1, 1)]
        many = [cli.ArgSpec(arg, 1, 1), cli.ArgSpec("<tag>")]
        usage_one, usage_many = arg, "%s <tag>..." % arg
    remove_what = {constants.TAG_INSTANCE: "given instance",
                   constants.TAG_NETWORK: "given network"}.get(kind, what)
    return {
        "add-tags": (lambda opts, args: add_tags(kind, opts, args), many, _CHANGE_OPTS,
                     usage_many, "Add tags to %s" % what),
        "list-tags": (lambda opts, args: list_tags(kind, opts, args), one, [],
                      usage_one, "List the tags of %s" % what),
        "remove-tags": (lambda opts, args: remove_tags(kind, opts, args), many,
                        _CHANGE_OPTS, usage_many,
                        "Remove tags from %s" % remove_what),
    }


SEARCH_COMMAND = (search_tags, [cli.ArgSpec("<pattern>", 1, 1)], [cli.PRIORITY_OPT], "",
                  "Searches the tags on all objects on the cluster for a given pattern"
                  " (regex)")
