"""rpcstats: the master's figures of its node RPC calls, recorded without a
lock on the calls' path and summed up when asked for."""

import threading

from ganeti import rpcstats


def test_procedures_fall_into_a_few_families():
    assert rpcstats.family("blockdev_create") == "storage"
    assert rpcstats.family("drbd_wait_sync") == "storage"
    assert rpcstats.family("instance_start") == "instance"
    assert rpcstats.family("all_instances_info") == "instance"
    assert rpcstats.family("export_start") == "impexp"
    assert rpcstats.family("node_info") == "info"
    assert rpcstats.family("node_verify") == "verify"
    assert rpcstats.family("hooks_runner") == "hooks"
    assert rpcstats.family("upload_file") == "node"
    assert rpcstats.family("some_new_procedure") == rpcstats.DEFAULT_FAMILY
    assert set(rpcstats.FAMILIES) >= {"storage", "instance", "node"}


def test_snapshot_sums_per_node_and_family_with_a_histogram():
    stats = rpcstats.RpcStats()
    stats.record("n1", "node_info", 0.004, False)
    stats.record("n1", "version", 0.02, True)
    stats.record("n2", "blockdev_find", 100.0, False)
    snap = stats.snapshot()
    assert snap["buckets"] == list(rpcstats.LATENCY_BUCKETS)
    assert snap["nodes"] == [["n1", "info", 2, 1, 0.024], ["n2", "storage", 1, 0, 100.0]]
    counts = dict((fam, counts) for fam, counts, _, _ in snap["latency"])
    bounds = list(rpcstats.LATENCY_BUCKETS)
    # 4 ms in the first bucket (<= 5 ms), 20 ms in the one up to 25 ms, 100 s above all
    assert counts["info"][0] == 1 and counts["info"][bounds.index(0.025)] == 1
    assert counts["storage"][-1] == 1 and len(counts["storage"]) == len(bounds) + 1
    # a bound itself falls in its bucket (Prometheus' "le")
    stats.record("n1", "version", 0.005, False)
    assert stats.snapshot()["latency"][0][1][0] == 2
    # snapshots are copies
    snap["nodes"][0][2] = 99
    assert stats.snapshot()["nodes"][0][2] == 3


def test_recording_threads_fold_when_many_piled_up():
    stats = rpcstats.RpcStats()
    threads = [threading.Thread(target=lambda: [stats.record("n%d" % (i % 3), "version",
                                                             0.001, i % 10 == 0)
                                                for i in range(3000)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stats._pending) <= rpcstats._FOLD_AT + 4     # folded on the way
    snap = stats.snapshot()
    assert sum(calls for _, _, calls, _, _ in snap["nodes"]) == 12000
    assert sum(errs for _, _, _, errs, _ in snap["nodes"]) == 1200
    assert snap["latency"][0][2] == 12000
