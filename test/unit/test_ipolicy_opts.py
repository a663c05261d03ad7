"""The instance policy options of gnt-cluster (init, modify) and gnt-group:
parsed as Ganeti parses them, into the policy the opcodes get."""

import optparse

import pytest

from ganeti import constants, errors
from ganeti.client import ipolicy_opts


def _parse(*argv):
    parser = optparse.OptionParser(option_list=[ipolicy_opts.STD_SPECS_OPT] +
                                   ipolicy_opts.IPOLICY_OPTS + ipolicy_opts.SPECS_OPTS)
    opts, _ = parser.parse_args(list(argv))
    return opts


def test_new_style_options():
    opts = _parse("--ipolicy-std-specs", "memory-size=256M,cpu-count=2",
                  "--ipolicy-bounds-specs",
                  "min:cpu-count=1,disk-count=1,disk-size=1G,memory-size=128,nic-count=1,"
                  "spindle-use=1/max:cpu-count=8,disk-count=4,disk-size=2G,memory-size=4G,"
                  "nic-count=4,spindle-use=4",
                  "--ipolicy-disk-templates", "plain,drbd", "--ipolicy-vcpu-ratio", "2.5")
    policy = ipolicy_opts.ipolicy_from_opts(opts)
    assert policy["std"] == {"memory-size": 256, "cpu-count": 2}
    assert policy["minmax"] == [{
        "min": {"cpu-count": 1, "disk-count": 1, "disk-size": 1024, "memory-size": 128,
                "nic-count": 1, "spindle-use": 1},
        "max": {"cpu-count": 8, "disk-count": 4, "disk-size": 2048, "memory-size": 4096,
                "nic-count": 4, "spindle-use": 4}}]
    assert (policy["disk-templates"], policy["vcpu-ratio"]) == (["plain", "drbd"], 2.5)
    assert "spindle-ratio" not in policy
    assert ipolicy_opts.bounds_text(policy) == (
        "min:cpu-count=1,disk-count=1,disk-size=1024,memory-size=128,nic-count=1,"
        "spindle-use=1/max:cpu-count=8,disk-count=4,disk-size=2048,memory-size=4096,"
        "nic-count=4,spindle-use=4")
    assert ipolicy_opts.ipolicy_from_opts(_parse()) == {}


def test_old_style_specs_change_the_base():
    opts = _parse("--specs-mem-size", "min=64,std=256,max=1G", "--specs-nic-count",
                  "max=2")
    policy = ipolicy_opts.ipolicy_from_opts(opts, base=constants.IPOLICY_DEFAULTS)
    (minmax,) = policy["minmax"]
    assert (minmax["min"]["memory-size"], minmax["max"]["memory-size"],
            minmax["max"]["nic-count"], policy["std"]["memory-size"]) == (64, 1024, 2,
                                                                          256)
    assert minmax["min"]["cpu-count"] == constants.IPOLICY_DEFAULTS["minmax"][0]["min"][
        "cpu-count"]


@pytest.mark.parametrize("argv, message", [
    (["--specs-mem-size", "min=64", "--ipolicy-std-specs", "memory-size=128"],
     "cannot be specified together"),
    (["--specs-mem-size", "avg=64"], "Invalid key in memory-size specs: avg"),
    (["--ipolicy-bounds-specs", "min:cpu-count=1/max:cpu-count=2"],
     "Missing parameters in ipolicy spec min"),
    (["--ipolicy-bounds-specs", "low:cpu-count=1"], "Invalid key in bounds"),
    (["--ipolicy-std-specs", "memory-size=lots"], "Invalid parameter memory-size"),
])
def test_bad_values(argv, message):
    with pytest.raises(errors.OpPrereqError, match=message):
        ipolicy_opts.ipolicy_from_opts(_parse(*argv), base=constants.IPOLICY_DEFAULTS)
