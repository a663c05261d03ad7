"""pathutils: virtual cluster roots and the node name override."""

import pytest

from ganeti import errors, pathutils


def test_virtual_env_rules():
    assert pathutils._read_virtual_env({"GANETI_ROOTDIR": "/tmp/vc/node1.example.com",
                                        "GANETI_HOSTNAME": "node1.example.com"}) == (
        "/tmp/vc/node1.example.com", "node1.example.com")
    with pytest.raises(errors.ConfigurationError):
        pathutils._read_virtual_env({"GANETI_ROOTDIR": "/tmp/vc/node1"})
    with pytest.raises(errors.ConfigurationError):
        pathutils._read_virtual_env({"GANETI_ROOTDIR": "/tmp/vc/node1",
                                     "GANETI_HOSTNAME": "node2"})
    with pytest.raises(errors.ConfigurationError):
        pathutils._read_virtual_env({"GANETI_ROOTDIR": "relative/node1",
                                     "GANETI_HOSTNAME": "node1"})
    assert pathutils._read_virtual_env({"GANETI_HOSTNAME": "n1.example.com"}) == (
        "", "n1.example.com")


def test_read_defaults_file(tmp_path):
    path = tmp_path / "ganeti"
    path.write_text("# comment\nexport GANETI_HOSTNAME=node1.example.com\n"
                    "NODED_ARGS=\"-b 127.0.1.1\"\nnot a setting\n")
    assert pathutils.read_defaults_file(str(path)) == {
        "GANETI_HOSTNAME": "node1.example.com", "NODED_ARGS": "-b 127.0.1.1"}
    assert pathutils.read_defaults_file(str(tmp_path / "missing")) == {}


def test_upload_allow_list_holds_only_cluster_files():
    allowed = pathutils.upload_allowed_files()
    assert pathutils.CLUSTER_CONF_FILE in allowed
    assert pathutils.NODED_CERT_FILE in allowed
    assert "/etc/passwd" not in allowed
