"""black: format the sources of six large stdlib modules in-process with black.format_str."""

import argparse
import dataclasses
import hashlib
import inspect
import pathlib
import shutil
import subprocess
import typing

import black

# About 13k lines; each takes 0.5-1 s to format on a 2-core machine.
MODULES = [typing, argparse, shutil, pathlib, subprocess, dataclasses]


def main() -> None:
    mode = black.Mode()
    digest = hashlib.sha256()
    changed = lines = 0
    for module in MODULES:
        source = inspect.getsource(module)
        formatted = black.format_str(source, mode=mode)
        changed += formatted != source
        lines += formatted.count("\n")
        digest.update(formatted.encode())
    sha = digest.hexdigest()[:12]
    print(f"black modules={len(MODULES)} changed={changed} lines={lines} sha={sha}")


if __name__ == "__main__":
    main()
