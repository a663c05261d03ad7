"""etcd: where the cluster configuration and the master lease live (doc/etcd.rst).

certs     this node's TLS certificate for etcd, signed by the cluster certificate
client    the v3 API over etcd's HTTPS/JSON gateway (stdlib only)
"""
