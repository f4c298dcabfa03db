"""The pywebsocket ``util`` names kept for handlers and harnesses."""

from __future__ import annotations

import logging

from mod_pywebsocket import util
from mod_pywebsocket.core.frames import apply_mask_python


def test_repeated_xor_masker_streams_across_calls():
    key = b"\x01\x02\x03\x04"
    data = bytes(range(50))
    masker = util.RepeatedXorMasker(key)
    pieces = masker.mask(data[:3]) + masker.mask(data[3:10]) + masker.mask(data[10:])
    assert pieces == apply_mask_python(data, key)
    assert util.NoopMasker().mask(b"abc") == b"abc"


def test_small_helpers():
    assert util.hexify(b"\x01\xab") == "01 ab"
    assert util.hexify("\x00A") == "00 41"
    assert util.get_class_logger(util.NoopMasker()).name == "mod_pywebsocket.util.NoopMasker"
    assert isinstance(util.get_class_logger(util.NoopMasker()), logging.Logger)
    e = ValueError("bad")
    util.prepend_message_to_exception("context: ", e)
    assert str(e) == "context: bad"
    try:
        raise RuntimeError("x")
    except RuntimeError:
        assert "RuntimeError: x" in util.get_stack_trace()
