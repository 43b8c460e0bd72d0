"""Command-line options that the protocols share.

Each protocol maps options to configuration fields in a table ``{option: (field, type,
help)}``. Here are the table of the data-split options that every image protocol has,
the help text of a default that depends on the preset, and the three loops over such a
table: adding the options, reading them back as configuration overrides, and listing
the ones that were given.
"""

from __future__ import annotations

import argparse

__all__ = ["DATA_FIELDS", "DEFAULT_OUT", "preset_default", "add_run_options",
           "add_field_options", "field_overrides", "given_options", "option_tokens"]

#: The results root of a new run when ``--out`` is not given.
DEFAULT_OUT = "results"

#: Options of the data split: option -> (config field, type, help).
DATA_FIELDS = {
    "--validation": ("validation", int, "images held out of the training set for validation"),
    "--test": ("test", int, "digits only: images held out as the test set"),
    "--eval-split": ("eval_split", str, "split evaluated after every epoch"),
    "--train-samples": ("train_samples", int, "train on the first N training images only"),
    "--eval-samples": ("eval_samples", int, "evaluate on the first N images only"),
}


def _show(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def preset_default(config_cls, presets: dict, field_name: str, base=None) -> str:
    """``default: X (preset/dataset: Y; ...)`` for a configuration field whose value some
    presets change (escaped for argparse); ``base`` replaces the dataclass's default
    (e.g. a study's own default)."""
    base = getattr(config_cls(), field_name) if base is None else base
    special = [f"{preset}/{dataset}: {_show(values[field_name])}"
               for preset, table in presets.items() for dataset, values in table.items()
               if field_name in values and values[field_name] != base]
    text = f"default: {_show(base)}" + (f" ({'; '.join(special)})" if special else "")
    return text.replace("%", "%%")


def add_run_options(parser: argparse.ArgumentParser, config_cls, presets: dict,
                    paper_dataset: str) -> None:
    """The options every image protocol has: ``--preset``, ``--dataset``, ``--data-dir``,
    ``--download``, ``--epochs``, ``--device``, ``--threads``, ``--out``, ``--no-progress``.

    ``--download`` is an action, not a configuration field: it is never stored with a
    run, and it may be given with ``--resume``."""
    from models.devices import TARGETS

    # --preset and --out default to None so that a resume can tell whether they were
    # given (it refuses them); a new run applies 'paper' and DEFAULT_OUT.
    parser.add_argument("--preset", choices=sorted(presets), default=None,
                        help="starting configuration: 'paper' or 'quick' (a small network, "
                             "minutes on one core; MNIST and Fashion-MNIST on a subset); "
                             "default: paper")
    parser.add_argument("--dataset", choices=("digits", "mnist", "fashion-mnist"), default=None,
                        help=f"data set; default: {paper_dataset} for paper, digits for quick")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="directory with the IDX files; default: $SNN_DATA_DIR, else the "
                             "download cache")
    parser.add_argument("--download", action="store_true",
                        help="first download the MNIST / Fashion-MNIST files that are missing "
                             "(into --data-dir, else $SNN_DATA_DIR, else the download cache; "
                             "checked against the published MD5); allowed with --resume")
    parser.add_argument("--epochs", type=int, default=None, metavar="N",
                        help=f"training epochs; {preset_default(config_cls, presets, 'epochs')}")
    parser.add_argument("--device", choices=TARGETS, default=None,
                        help="simulation device; default: cpp")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="OpenMP threads of the cpp device (results equal one thread's; "
                             "protocols that cannot promise that refuse N > 1); default: 1")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help=f"results root of a new run; default: {DEFAULT_OUT} (a resumed "
                             "run stays in its own folder)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def option_dest(option: str) -> str:
    return option[2:].replace("-", "_")


def add_field_options(parser: argparse.ArgumentParser, fields: dict, config_cls, presets: dict,
                      choices: dict | None = None, multiple: tuple = (),
                      defaults: dict | None = None) -> None:
    """Add one option per entry of ``fields`` (default ``None``: the preset decides),
    with ``choices`` per field name, ``nargs='+'`` for the fields in ``multiple``, and
    ``defaults`` replacing the dataclass's defaults in the help."""
    choices = choices or {}
    defaults = defaults or {}
    for option, (field_name, type_, text) in fields.items():
        shown = preset_default(config_cls, presets, field_name, defaults.get(field_name))
        kwargs = dict(type=type_, default=None, help=f"{text}; {shown}")
        if field_name in choices:
            kwargs["choices"] = choices[field_name]
        if field_name in multiple:
            kwargs.update(nargs="+", metavar="N")
        parser.add_argument(option, **kwargs)


def field_overrides(args, fields: dict) -> dict:
    """``{field: value}`` of the table's options as parsed (``None`` where not given)."""
    return {field_name: getattr(args, option_dest(option))
            for option, (field_name, _, _) in fields.items()}


def given_options(args, fields: dict) -> list:
    """The table's options that were given on the command line."""
    return [option for option in fields if getattr(args, option_dest(option)) is not None]


def option_tokens(args, option: str) -> list[str]:
    """The command-line words that give ``option`` its parsed value in ``args`` (a
    switch alone; several values one word each)."""
    value = getattr(args, option_dest(option))
    if value is True:
        return [option]
    if isinstance(value, (list, tuple)):
        return [option, *map(str, value)]
    return [option, str(value)]
