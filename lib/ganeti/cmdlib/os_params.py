"""OS parameters on the master: public, private and secret ones.

Public parameters (``osparams``) are stored and shown; private ones
(``osparams_private``) are stored in the configuration but never shown; secret
ones (``osparams_secret``) are neither stored nor shown and reach only the
node's OS scripts (see opcodes.split_secrets). All three are validated by the
OS's ``verify`` script (OS API 20) on the instance's nodes before anything
changes. doc/os-parameters.rst tells the whole story.
"""

import types

from ganeti import constants, errors, opcodes, osinterface
from ganeti.cmdlib import instance_utils as iu

# what a parameter change of "default" (or None) means: drop the instance's value
_RESET_VALUES = (constants.VALUE_DEFAULT, None)
# the key of the cluster-wide defaults in cluster.beparams / cluster.nicparams
_PP_DEFAULT = "default"


def updated_params(old: dict, changes: dict) -> dict:
    """``old`` with ``changes`` applied; a value "default" (or None) removes the key."""
    new = dict(old or {})
    for key, value in (changes or {}).items():
        if value in _RESET_VALUES:
            new.pop(key, None)
        else:
            new[key] = value
    return new


def all_params(cluster, instance, secrets=None) -> dict:
    """Every parameter the OS scripts see: cluster defaults, the instance's public
    and private ones, then the secret ones."""
    params = iu.fill_os_params(cluster, instance)
    params.update(iu.fill_os_params_private(cluster, instance))
    params.update(secrets or {})
    return params


def check_os_params(lu, required: bool, nodes: list, os_name: str, params: dict,
                    force_variant: bool = False) -> None:
    """Run the OS's parameter check (``verify parameters``) on ``nodes``.

    OpExecError (as Ganeti's) with the node's answer when the OS is invalid
    there (if ``required``), a parameter is unknown to it or its verify script
    refuses.
    An OS missing on a node where it is not ``required`` is only reported.
    """
    nodes = [name for name in nodes if _vm_capable(lu.cfg, name)]
    if not nodes:
        return
    results = lu.rpc.call("os_validate", nodes,
                          [required, os_name, [osinterface.VALIDATE_PARAMETERS], params,
                           force_variant], constants.RPC_TMO_NORMAL)
    for node in nodes:
        res = results[node]
        res.raise_on_failure("OS Parameters validation failed on node %s" % node)
        if not res.data:
            lu.log_info("OS %s not found on node %s, validation skipped", os_name, node)


def _vm_capable(cfg, name):
    node = cfg.get_node_info(name)
    return node is not None and node.vm_capable


def instance_for_os_script(cfg, instance, secrets=None) -> dict:
    """The instance for the node's OS procedures, secret parameters included
    (merged into ``osparams``, which the node turns into OSP_* variables)."""
    data = iu.instance_for_node(cfg, instance)
    if secrets:
        data["osparams"] = dict(data["osparams"], **secrets)
    return data


def secrets_of(op) -> dict:
    """The opcode's secret OS parameters, refused if they were lost on the way."""
    opcodes.check_secrets_present(op)
    return dict(getattr(op, "osparams_secret", None) or {})


def revert_to_defaults(cluster, instance) -> None:
    """identify_defaults: drop the instance's parameters that equal the cluster's
    defaults, so that the instance follows later changes of those defaults."""
    defaults = [
        # the hypervisor defaults include the OS's own (gnt-os modify -H)
        ("hvparams", cluster.fill_hv(types.SimpleNamespace(
            hypervisor=instance.hypervisor, os=instance.os, hvparams={}))),
        ("beparams", cluster.beparams.get(_PP_DEFAULT, {})),
        ("osparams", iu.fill_os_params(cluster, types.SimpleNamespace(
            os=instance.os or "", osparams={}))),
        ("osparams_private", {}),
    ]
    for attr, default in defaults:
        own = getattr(instance, attr) or {}
        setattr(instance, attr, dict((k, v) for k, v in own.items()
                                     if k not in default or default[k] != v))
    nic_defaults = cluster.nicparams.get(_PP_DEFAULT, {})
    for nic in instance.nics:
        nic.nicparams = dict((k, v) for k, v in (nic.nicparams or {}).items()
                             if k not in nic_defaults or nic_defaults[k] != v)
