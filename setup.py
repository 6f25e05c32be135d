"""Package discovery only; everything else is in pyproject.toml.

The engine's source stays in the top-level `core/` folder (the project layout), but it is
installed, and imported, as `mem_integrations.core`: a top-level `core` package would clash
with a user's own `core/` (a common Django app name) or another distribution's.
"""

from setuptools import find_packages, setup

ENGINE = "mem_integrations.core"

setup(
    packages=[*find_packages(include=["mem_integrations", "mem_integrations.*"]),
              ENGINE, *(f"{ENGINE}.{name}" for name in find_packages("core"))],
    package_dir={ENGINE: "core"},
)
