"""gnt-instance batch-create: create the instances a JSON file describes.

The file holds a list of dicts, each the parameters of one OP_INSTANCE_CREATE
(Ganeti 2.7 and later; the name -> spec dict of Ganeti 2.6 and earlier is
refused, as Ganeti 3.0 refuses it). Every spec is checked here, before
anything is submitted; then one OP_INSTANCE_MULTI_ALLOC places them all and
submits a creation job per instance, which this command waits for.
"""

import json

from ganeti import cli, constants, errors, opcodes


def _load_specs(path):
    """The file's specs, or None after saying on stderr why there are none."""
    try:
        with open(path) as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError) as err:
        cli.to_stderr("Can't parse the instance definition file: %s" % err)
        return None
    if not (isinstance(data, list) and all(isinstance(spec, dict) for spec in data)):
        cli.to_stderr("The instance definition file is not List of Dictionary")
        return None
    return data


def _creation_op(idx, spec):
    """OP_INSTANCE_CREATE of spec number ``idx``; OpPrereqError in Ganeti's words
    for unknown keys, missing required ones and values of the wrong type."""
    params = opcodes.OpInstanceCreate.all_params()
    unknown = sorted(set(spec) - set(name for name, _, _, _ in params))
    if unknown:
        raise errors.OpPrereqError("Unknown fields in definition %s: %s"
                                   % (idx, ", ".join(unknown)), errors.ECODE_INVAL)
    for name, default, _, _ in params:
        if default is opcodes.REQUIRED and spec.get(name) is None:
            raise errors.OpPrereqError("Parameter '%s.%s' fails validation"
                                       % (opcodes.OpInstanceCreate.OP_ID, name),
                                       errors.ECODE_INVAL)
    op = opcodes.OpInstanceCreate(**spec)
    op.validate(set_defaults=False)
    return op


def batch_create(opts, args):
    """Create the instances of the definition file; exit 1 if any failed."""
    cl = cli.get_client()
    specs = _load_specs(args[0])
    if specs is None:
        return constants.EXIT_FAILURE
    instances = [_creation_op(idx, spec) for idx, spec in enumerate(specs)]
    op = opcodes.OpInstanceMultiAlloc(iallocator=opts.iallocator, instances=instances)
    if getattr(opts, "submit_only", False):
        cli.submit_or_send(op, opts, cl=cl)
        return constants.EXIT_SUCCESS
    result = cli.submit_or_send(op, opts, cl=cl) or {}     # a dry run: no result
    results = cli.wait_for_submitted_jobs(result.get(constants.JOB_IDS_KEY) or [], cl=cl)
    # instances the allocator could not place count as errors too (Ganeti only
    # counts failed jobs, and would call such a run successful)
    bad = len([1 for ok, _ in results if not ok]) + len(result.get("failed") or [])
    if bad:
        cli.to_stdout("There were %s errors during the creation." % bad)
        return constants.EXIT_FAILURE
    cli.to_stdout("All instances created successfully.")
    return constants.EXIT_SUCCESS
