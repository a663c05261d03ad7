"""etcd: where the cluster configuration (and, next, the job queue and the
master lease) lives; see doc/etcd.rst.

client       the v3 API over etcd's HTTPS/JSON gateway (stdlib only)
certs        this node's TLS certificate for etcd, signed by the cluster certificate
member       this node's member: its member file and etcd command line
membership   the members follow the master candidates (master side); verify checks
configstore  the configuration as one key per object, committed by compare-and-swap
configsync   every node's config.data and ssconf copies, following etcd
recover      --no-voting: this node's member alone becomes the cluster's etcd
"""
