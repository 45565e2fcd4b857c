"""A training script's command line: one ``--flag`` per field of its config dataclass,
and ``--out`` for where the artifact goes."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Callable, TypeVar

Config = TypeVar("Config")


def parse_config(config_type: type[Config], argv: list[str] | None, default_out: Path,
                 description: str) -> tuple[Config, Path]:
    """The config (defaults, with each ``--field-name`` given) and the output folder."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=default_out)
    defaults = asdict(config_type())
    for field in fields(config_type):
        default = defaults[field.name]
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(default),
                            default=default)
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    return config_type(**args), out


def config_main(config_type: type[Config], train: Callable[[Config], tuple[Any, dict]],
                save: Callable[[Any, Path, Config, dict], dict], default_out: Path,
                description: str, argv: list[str] | None = None) -> dict:
    """Parse, train, save; the saved meta is printed as JSON and returned."""
    config, out = parse_config(config_type, argv, default_out, description)
    network, summary = train(config)
    meta = save(network, out, config, summary)
    print(json.dumps(meta, indent=2))
    return meta
