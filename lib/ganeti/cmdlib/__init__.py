"""Logical units, one module per object; ``get_lu_class`` maps opcodes to LUs."""

from ganeti import errors


def _lu_modules():
    from ganeti.cmdlib import extstorage
    from ganeti.cmdlib import renew_crypto
    from ganeti.cmdlib import (backup, cluster, group, instance, instance_change,
                               instance_migration, instance_move, instance_multialloc,
                               instance_operation, instance_query, network, node,
                               node_evacuate, node_storage, oob, operating_system, query,
                               recreate_disks, replace_disks, tags, test, verify_disks)
    return [backup, cluster, node, query, test, instance, instance_operation,
            instance_change, instance_migration, instance_move, instance_query,
            operating_system, tags, recreate_disks, replace_disks, node_evacuate,
            verify_disks, node_storage, group, network, oob, instance_multialloc,
            extstorage, renew_crypto]


_LU_CACHE = {}


def get_lu_class(op):
    """The LU class for an opcode: OpFooBar -> LUFooBar."""
    name = "LU" + type(op).__name__[2:]
    cls = _LU_CACHE.get(name)
    if cls is None:
        for module in _lu_modules():
            cls = getattr(module, name, None)
            if cls is not None:
                break
        if cls is None:
            raise errors.OpCodeUnknown("No logical unit for opcode %s" % op.OP_ID)
        _LU_CACHE[name] = cls
    return cls
