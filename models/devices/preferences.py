"""Brian2 preferences that :func:`~models.devices.select_device` changes.

Each changed preference is remembered with the value it had before the first change,
so that the next :func:`~models.devices.select_device` call puts it back: a CUDA
selection's ``-std=c++17`` and cuRAND paths must not leak into a later C++ build (they
would change its code and its cache slot).
"""

from __future__ import annotations

from brian2 import prefs

#: Pref name -> value before select_device first changed it.
_saved_prefs: dict = {}


def _set_pref(name: str, value) -> None:
    """Set a Brian2 preference, remembering its previous value so that the next
    :func:`select_device` call can put it back."""
    saved = _saved_prefs
    if name not in saved:
        old = prefs[name]
        saved[name] = list(old) if isinstance(old, list) else old
    prefs[name] = list(value) if isinstance(value, list) else value


def _restore_prefs() -> None:
    saved = _saved_prefs
    for name, value in saved.items():
        basename = name.rpartition(".")[0]
        if basename in prefs.pref_register:
            prefs[name] = list(value) if isinstance(value, list) else value
    saved.clear()
