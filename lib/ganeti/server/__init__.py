"""Daemon main loops (masterd, noded); entry points live in daemons/."""
