"""JSON serialization used for config.data, job files, LUXI and RPC."""

import json

_encoder = json.JSONEncoder(sort_keys=True, indent=None, separators=(",", ":"))
_pretty = json.JSONEncoder(sort_keys=True, indent=1, separators=(",", ": "))


def dump_json(data, pretty=False):
    """Serialize ``data`` to a JSON text (str), keys sorted."""
    text = (_pretty if pretty else _encoder).encode(data)
    return text + "\n" if pretty else text


def load_json(text):
    """Parse a JSON text (str or bytes)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text)
