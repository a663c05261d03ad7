"""The info layout matches Ganeti's output (spec/samples)."""

from ganeti.client import infofmt


def test_nested_layout():
    items = [
        ("Cluster name", "cluster.example.com"),
        ("Tags", "(none)"),
        ("Hypervisor parameters", [("fake", {"migration_mode": "live"})]),
        ("OS parameters", {}),
        ("Cluster parameters", [("candidate pool size", 10),
                                ("compression tools", ["gzip", "gzip-fast"]),
                                ("drbd usermode helper", None)]),
        ("Instance policy - limits for instances", [
            ("bounds specs", [[("max/0", {"cpu-count": 8}), ("min/0", {"cpu-count": 1})]]),
            ("vcpu-ratio", 4.0)]),
    ]
    assert infofmt.format_info(items) == [
        "Cluster name: cluster.example.com",
        "Tags: (none)",
        "Hypervisor parameters: ",
        "  fake: ",
        "    migration_mode: live",
        "OS parameters: ",
        "Cluster parameters: ",
        "  candidate pool size: 10",
        "  compression tools: ",
        "    - gzip",
        "    - gzip-fast",
        "  drbd usermode helper: None",
        "Instance policy - limits for instances: ",
        "  bounds specs: ",
        "    - max/0: ",
        "        cpu-count: 8",
        "      min/0: ",
        "        cpu-count: 1",
        "  vcpu-ratio: 4",
    ]


def test_params_with_defaults():
    assert infofmt.params_with_defaults({"a": 2}, {"a": 2, "b": 1.5}) == {
        "a": 2, "b": "default (1.5)"}
