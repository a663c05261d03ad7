"""Tags of the cluster, node groups, nodes and instances (gnt-* add-tags,
remove-tags, list-tags; gnt-cluster search-tags), with Ganeti's rules: a tag
is 1-128 characters of letters, digits and ``.+*/:@-_``, an object carries at
most 4096, and removing a tag the object does not have changes nothing and
fails.
"""

import re

from ganeti import constants, errors, locking, objects
from ganeti.cmdlib.base import NoHooksLU, expand_node_name
from ganeti.cmdlib.instance_utils import expand_instance_name


def find_target(cfg, kind, name):
    """The object of ``kind`` named ``name`` (OpPrereqError if unknown)."""
    if kind == constants.TAG_CLUSTER:
        return cfg.get_cluster_info()
    if kind == constants.TAG_NODE:
        return cfg.get_node_info(expand_node_name(cfg, name))
    if kind == constants.TAG_INSTANCE:
        return cfg.get_instance_info(expand_instance_name(cfg, name))
    if kind == constants.TAG_NODEGROUP:
        uuid = cfg.lookup_node_group(name)
        return cfg.get_node_group(uuid)
    if kind == constants.TAG_NETWORK:
        return cfg.get_network(cfg.lookup_network(name))
    raise errors.OpPrereqError("Unknown tag kind '%s'" % kind, errors.ECODE_INVAL)


class _TagsLU(NoHooksLU):
    """Finds and locks the object an opcode's kind and name point to."""

    REQ_BGL = False
    SHARED = False          # lock the object shared (reading) or exclusively

    def check_arguments(self):
        if self.op.kind == constants.TAG_CLUSTER:
            # the cluster object has no lock of its own: its changes take the
            # Big Ganeti Lock exclusively
            self.REQ_BGL = not self.SHARED
        elif not self.op.name:
            raise errors.OpPrereqError("The %s whose tags to use needs a name"
                                       % self.op.kind, errors.ECODE_INVAL)

    def expand_names(self):
        kind, cfg = self.op.kind, self.cfg
        self.target = find_target(cfg, kind, self.op.name)
        level = {constants.TAG_NODE: locking.LEVEL_NODE,
                 constants.TAG_INSTANCE: locking.LEVEL_INSTANCE,
                 constants.TAG_NODEGROUP: locking.LEVEL_NODEGROUP,
                 constants.TAG_NETWORK: locking.LEVEL_NETWORK}.get(kind)
        if level is not None and self._wants_lock():
            key = self.target.uuid if kind in (constants.TAG_NODEGROUP,
                                               constants.TAG_NETWORK) else self.target.name
            self.needed_locks[level] = [key]
            self.share_locks[level] = 1 if self.SHARED else 0

    def _wants_lock(self):
        return True

    def _current(self):
        """The object as the configuration holds it now (after the locks)."""
        return find_target(self.cfg, self.op.kind, self.op.name)


class LUTagsGet(_TagsLU):
    SHARED = True

    def _wants_lock(self):
        return self.op.use_locking

    def exec(self, feedback_fn):
        return sorted(self._current().tags)


class LUTagsSearch(NoHooksLU):
    REQ_BGL = False

    def check_arguments(self):
        try:
            self.regex = re.compile(self.op.pattern)
        except re.error as err:
            raise errors.OpPrereqError("Invalid search pattern '%s': %s"
                                       % (self.op.pattern, err), errors.ECODE_INVAL)

    def exec(self, feedback_fn):
        cfg = self.cfg
        targets = [("/cluster", cfg.get_cluster_info())]
        targets += [("/instances/%s" % name, inst) for name, inst
                    in sorted(cfg.get_all_instances_info().items())]
        targets += [("/nodes/%s" % name, node) for name, node
                    in sorted(cfg.get_all_nodes_info().items())]
        targets += [("/nodegroup/%s" % group.name, group) for group
                    in cfg.get_all_node_groups_info().values()]
        targets += [("/network/%s" % net.name, net) for net
                    in cfg.get_all_networks_info().values()]
        return [[path, tag] for path, target in targets
                for tag in sorted(target.tags) if self.regex.search(tag)]


class LUTagsSet(_TagsLU):

    def check_prereq(self):
        for tag in self.op.tags:
            objects.TaggableObject.validate_tag(tag)
        self.target = self._current()
        count = len(set(self.target.tags) | set(self.op.tags))
        if count > constants.MAX_TAGS_PER_OBJ:
            raise errors.TagError("Too many tags")

    def exec(self, feedback_fn):
        target = self.target.copy()
        target.tags = sorted(set(target.tags) | set(self.op.tags))
        self.cfg.update(target)


class LUTagsDel(_TagsLU):

    def check_prereq(self):
        for tag in self.op.tags:
            objects.TaggableObject.validate_tag(tag)
        self.target = self._current()
        missing = sorted(set(self.op.tags) - set(self.target.tags))
        if missing:
            raise errors.OpPrereqError("Tag(s) %s not found"
                                       % ", ".join("'%s'" % tag for tag in missing),
                                       errors.ECODE_NOENT)

    def exec(self, feedback_fn):
        target = self.target.copy()
        target.tags = sorted(set(target.tags) - set(self.op.tags))
        self.cfg.update(target)
