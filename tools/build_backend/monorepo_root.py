"""The build backend of the repository root, which is not a distribution.

``pip install .`` at the root used to build an empty ``packages-0.0.0`` (setuptools guessed a
project from the folder names). The root ``pyproject.toml`` only holds tool settings; every
build hook here stops with a message naming what to install instead.
"""

from __future__ import annotations

from typing import NoReturn

MESSAGE = """\
pgmonkey: this repository is a monorepo, and its root is not a distribution.
Install the distributions you need from packages/, for example:
    pip install ./packages/pgmonkey-core ./packages/pgmonkey-cli
(add -e before each path for an editable install), or run the project's tasks with nox:
    python -m nox -l
"""


def _refuse(*args: object, **kwargs: object) -> NoReturn:
    raise SystemExit(MESSAGE)


get_requires_for_build_wheel = _refuse
get_requires_for_build_sdist = _refuse
get_requires_for_build_editable = _refuse
prepare_metadata_for_build_wheel = _refuse
prepare_metadata_for_build_editable = _refuse
build_wheel = _refuse
build_sdist = _refuse
build_editable = _refuse
