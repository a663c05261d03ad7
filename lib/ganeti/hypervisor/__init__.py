"""Hypervisor abstraction: one class per hypervisor, behind hv_base.BaseHypervisor."""

import importlib

from ganeti import constants, errors

_MODULES = {
    constants.HT_FAKE: ("ganeti.hypervisor.hv_fake", "FakeHypervisor"),
    constants.HT_KVM: ("ganeti.hypervisor.hv_kvm", "KVMHypervisor"),
    constants.HT_XEN_PVM: ("ganeti.hypervisor.hv_xen", "XenPvmHypervisor"),
    constants.HT_XEN_HVM: ("ganeti.hypervisor.hv_xen", "XenHvmHypervisor"),
}


def get_hypervisor_class(name):
    """The class of hypervisor ``name`` (imported on first use)."""
    try:
        module_name, class_name = _MODULES[name]
    except KeyError:
        raise errors.HypervisorError("Unknown or unsupported hypervisor '%s'" % name)
    return getattr(importlib.import_module(module_name), class_name)


def get_hypervisor(name):
    """An instance of hypervisor ``name``."""
    return get_hypervisor_class(name)()
