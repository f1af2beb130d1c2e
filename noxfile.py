"""The supported version ranges, each tested in a virtualenv of its own.

    nox                 # the default sessions: oldest and newest (what CI runs)
    nox -s tests        # the suite on every Python 3.9+ found on the machine
    nox -s docs lint    # the documentation build and the linters
    nox -s upstream     # upstream/: the ncclient patch series against ncclient's suite and ours

- ``oldest``: the oldest releases we support of what we hook into: ncclient 0.6.17
  (the first with ``errors_params``/``raise_mode`` on its Manager), Twisted 22.10,
  paramiko 3.2 (ncclient opens key files with ``PKey.from_path``; ncclient 0.6.x also
  needs paramiko < 4, which removed ``DSSKey``, for ``hostkey_b64=``).
- ``newest``: the newest releases of everything, ncclient 0.7.x.

The netconfd integration tests need Debian's ``netconfd`` and ``openssh-server``
(``.ci/install-system-packages``); set NCCLIENT_TWISTED_REQUIRE_NETCONFD=1 to fail
rather than skip without them.
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["oldest", "newest"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]
# cryptography of that time too: from 43 on, paramiko 3.2 and Twisted 22.10 warn on import.
OLDEST = ["ncclient==0.6.17", "twisted[conch]==22.10.0", "paramiko==3.2.0", "cryptography<43"]
NEWEST = ["ncclient>=0.7,<0.8", "twisted[conch]", "paramiko"]


def _pytest(session: nox.Session) -> None:
    env = {"NCCLIENT_TWISTED_REQUIRE_NETCONFD": os.environ.get("NCCLIENT_TWISTED_REQUIRE_NETCONFD", "")}
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", *session.posargs, env=env)


@nox.session
def oldest(session: nox.Session) -> None:
    """The suite with the oldest supported ncclient, Twisted and paramiko."""
    session.install("-e", ".[test]", *OLDEST)
    session.run("python", "-c", "import ncclient, twisted; print(ncclient.__version__, twisted.__version__)")
    _pytest(session)


@nox.session
def newest(session: nox.Session) -> None:
    """The suite with the newest ncclient 0.7.x, Twisted and paramiko."""
    session.install("--upgrade", "-e", ".[test]", *NEWEST)
    session.run("python", "-c", "import ncclient, twisted; print(ncclient.__version__, twisted.__version__)")
    _pytest(session)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The suite on each Python version present (missing ones are skipped)."""
    session.install("-e", ".[test]")
    _pytest(session)


@nox.session
def docs(session: nox.Session) -> None:
    """The Sphinx build, warnings as errors."""
    session.install("-e", ".[docs]")
    session.run("python", "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                "docs", "docs/_build/html")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy."""
    session.install("-e", ".[lint]")
    session.run("python", "-m", "ruff", "check", ".")
    session.run("python", "-m", "mypy", "ncclient_twisted")
    session.run("python", "-m", "mypy", "--follow-imports=silent", "examples")


@nox.session(venv_backend="none")
def upstream(session: nox.Session) -> None:
    """upstream/apply-and-test: the patch series applied to ncclient's released sdist,
    ncclient's suite and flake8, then ours against it (it makes its own virtualenv)."""
    session.run("python3", "upstream/apply-and-test", *session.posargs, external=True)
