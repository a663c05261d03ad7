"""Address pools of networks (netpool.py) and how the configuration keeps them
in step with the instances' NICs (config.py)."""

import pytest

from ganeti import config, errors, netpool, objects


def _net(network="192.0.2.0/28", gateway=None, **kwargs):
    return objects.Network(name="net1", network=network, gateway=gateway, **kwargs)


def test_a_new_pool_reserves_network_broadcast_and_gateway():
    net = _net(gateway="192.0.2.1")
    pool = netpool.AddressPool.initialize(net)
    assert pool.usage_map() == "XX.............X"
    assert (pool.free_count(), pool.reserved_count()) == (13, 3)
    assert pool.external_reservations() == ["192.0.2.0", "192.0.2.1", "192.0.2.15"]
    # the bitmaps are stored on the object as Ganeti stores them
    assert net.ext_reservations == "1100000000000001"
    assert net.reservations == "0" * 16


def test_instance_and_external_reservations():
    pool = netpool.AddressPool.initialize(_net())
    assert pool.first_free() == "192.0.2.1"
    assert pool.first_free(skip={"192.0.2.1"}) == "192.0.2.2"
    pool.reserve("192.0.2.1")
    with pytest.raises(netpool.AddressPoolError, match="already used by an instance"):
        pool.reserve("192.0.2.1")
    pool.reserve("192.0.2.1", external=True)       # both kinds may hold it
    pool.release("192.0.2.1")
    assert pool.is_reserved("192.0.2.1", external=True)
    with pytest.raises(netpool.AddressPoolError, match="is not used by an instance"):
        pool.release("192.0.2.1")
    with pytest.raises(netpool.AddressPoolError, match="does not contain 10.0.0.1"):
        pool.reserve("10.0.0.1")
    assert not pool.contains("10.0.0.1") and not pool.contains(None)


def test_a_full_pool():
    pool = netpool.AddressPool.initialize(_net("192.0.2.0/30"))
    pool.reserve(pool.first_free())
    pool.reserve(pool.first_free())
    with pytest.raises(netpool.AddressPoolError, match="192.0.2.0/30 is full"):
        pool.first_free()


@pytest.mark.parametrize("network,message", [
    ("10.0.0.0/15", "A big network with 131072 host(s) is currently not supported"),
    ("10.0.0.0/31", "A network with only 2 host(s) is too small"),
])
def test_network_sizes(network, message):
    with pytest.raises(netpool.AddressPoolError, match=message.replace("(", r"\(")
                       .replace(")", r"\)")):
        netpool.AddressPool(_net(network))


def test_malformed_networks_keep_pythons_words():
    with pytest.raises(ValueError, match="'33' is not a valid netmask"):
        netpool.AddressPool(_net("10.0.0.0/33"))
    with pytest.raises(ValueError, match="has host bits set"):
        netpool.AddressPool(_net("10.0.0.1/24"))
    assert netpool.is_ipv4_network("10.0.0.0/33")    # the job may carry it
    assert not netpool.is_ipv4_network("bogus")
    assert netpool.is_ipv6_network("2001:db8::/64")
    assert not netpool.is_ipv6_address("192.0.2.1")


def _writer(tmp_path):
    group = objects.NodeGroup(name="default")
    node = objects.Node(name="node1", primary_ip="198.51.100.1", master_candidate=True,
                        group=group.uuid)
    cluster = objects.Cluster(cluster_name="c", master_node="node1",
                              master_ip="198.51.100.254", master_netdev="lo")
    net = _net()
    netpool.AddressPool.initialize(net)
    group.networks[net.uuid] = {"mode": "bridged", "link": "br0", "vlan": ""}
    data = objects.ConfigData(cluster=cluster, nodes={"node1": node},
                              nodegroups={group.uuid: group}, networks={net.uuid: net})
    path = str(tmp_path / "config.data")
    config.ConfigWriter.write_initial(path, data)
    return config.ConfigWriter(path), net.uuid


def _instance(name, *addresses):
    return objects.Instance(name=name, primary_node="node1", os="noop", hypervisor="fake",
                            disk_template="diskless",
                            nics=[objects.NIC(mac="aa:00:00:00:00:%02d" % idx, ip=ip,
                                              network=net)
                                  for idx, (net, ip) in enumerate(addresses)])


def _map(cfg, uuid):
    return netpool.AddressPool(cfg.get_network(uuid)).usage_map()


def test_commits_take_and_give_back_addresses(tmp_path):
    cfg, uuid = _writer(tmp_path)
    owner = object()
    assert cfg.generate_ip(uuid, owner) == "192.0.2.1"
    # held for its job: another job gets the next one, nobody the same
    assert cfg.generate_ip(uuid, object()) == "192.0.2.2"
    with pytest.raises(errors.ReservationError):
        cfg.reserve_ip(uuid, "192.0.2.1", None)
    cfg.add_instance(_instance("i1", (uuid, "192.0.2.1")))
    assert _map(cfg, uuid) == "XX.............X"
    assert cfg.get_network(uuid).serial_no == 1       # not a change of the network
    inst = cfg.get_instance_info("i1")
    inst.nics[0].ip = "192.0.2.5"
    cfg.update(inst)
    assert _map(cfg, uuid) == "X....X.........X"
    cfg.rename_instance("i1", "i2")
    assert _map(cfg, uuid) == "X....X.........X"
    cfg.remove_instance("i2")
    assert _map(cfg, uuid) == "X..............X"
    # stored by one instance, an address is no other's
    cfg.add_instance(_instance("i3", (uuid, "192.0.2.7")))
    with pytest.raises(errors.ConfigurationError, match="in use already"):
        cfg.add_instance(_instance("i4", (uuid, "192.0.2.7")))
    assert cfg.get_instance_info("i4") is None
    with pytest.raises(errors.ReservationError, match="not in network"):
        cfg.reserve_ip(uuid, "10.0.0.1", None)
    cfg.drop_ip_reservations(owner)


def test_external_reservations_need_no_conflicts_check(tmp_path):
    cfg, uuid = _writer(tmp_path)
    with pytest.raises(errors.ReservationError, match="externally reserved"):
        cfg.reserve_ip(uuid, "192.0.2.0", None)
    cfg.reserve_ip(uuid, "192.0.2.0", None, check=False)
    assert cfg.get_group_netparams(uuid, "node1")["link"] == "br0"
    assert cfg.network_of_ip_in_group("192.0.2.9", "node1") == "net1"
    assert cfg.network_of_ip_in_group("10.0.0.1", "node1") is None
    with pytest.raises(errors.OpPrereqError, match="Network 'nope' not found"):
        cfg.lookup_network("nope")
