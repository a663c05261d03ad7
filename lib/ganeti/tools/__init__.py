"""The node tools of an installed version ($(libdir)/ganeti/X.Y): ensure-dirs,
tools/cfgupgrade and tools/post-upgrade, which gnt-cluster upgrade runs."""
