"""What this machine has: memory (from /proc/meminfo) and CPUs."""

import os


def read_meminfo(path="/proc/meminfo"):
    """{field: kB} from /proc/meminfo."""
    info = {}
    with open(path) as fd:
        for line in fd:
            parts = line.replace(":", " ").split()
            if len(parts) >= 2 and parts[1].isdigit():
                info[parts[0]] = int(parts[1])
    return info


def memory(path="/proc/meminfo"):
    """{memory_total, memory_free, memory_dom0} in MiB; free = available memory."""
    info = read_meminfo(path)
    total = info.get("MemTotal", 0) // 1024
    avail_kb = info.get("MemAvailable")
    if avail_kb is None:
        avail_kb = info.get("MemFree", 0) + info.get("Buffers", 0) + info.get("Cached", 0)
    free = avail_kb // 1024
    return {"memory_total": total, "memory_free": free,
            "memory_dom0": max(0, total - free)}


def cpu_info(cpuinfo_file="/proc/cpuinfo"):
    """{cpu_total, cpu_dom0, cpu_nodes, cpu_sockets} of this machine; the
    node OS may use every CPU (cpu_dom0, Ganeti's "cnos"), as Ganeti assumes
    for KVM (Xen's dom0 reports its own share instead)."""
    sockets = set()
    try:
        with open(cpuinfo_file) as fd:
            for line in fd:
                if line.startswith("physical id"):
                    sockets.add(line.split(":", 1)[1].strip())
    except OSError:
        pass
    total = os.cpu_count() or 1
    return {"cpu_total": total, "cpu_dom0": total, "cpu_nodes": 1,
            "cpu_sockets": max(1, len(sockets))}
