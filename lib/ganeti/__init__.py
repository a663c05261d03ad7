"""Cluster virtualization manager, compatible with Ganeti 2.x at its outer interfaces."""
