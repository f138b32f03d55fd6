"""Importing townsquare does no work, has no cycles, and keeps Faust out of the ingest side.

A module that reads settings, starts a pool or opens a client at import makes
every importer pay for it (the CLI's ``--help``, a test that wants one pure
function) and ties the wiring to import order. Work belongs in start-up hooks
(:func:`streams.worker.app.create_app`, the CLI commands).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "streams"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> list[str]:
    return sorted(_module_name(p) for p in PACKAGE.rglob("*.py"))


def _run(code: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


IMPORT_EVERYTHING = """
import importlib, json, multiprocessing, os, sys, threading

def sockets():
    fds = os.listdir("/proc/self/fd")
    out = 0
    for fd in fds:
        try:
            out += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return out

import streams.settings as settings_module

created = []
original = settings_module.Settings.__init__
def counting_init(self, *args, **kwargs):
    created.append(1)
    original(self, *args, **kwargs)
settings_module.Settings.__init__ = counting_init

threads, children, socks = threading.active_count(), multiprocessing.active_children(), sockets()
for name in MODULES:
    importlib.import_module(name)
print(json.dumps({
    "settings_created": len(created),
    "settings_cached": settings_module.get_settings.cache_info().currsize,
    "threads": [threads, threading.active_count()],
    "children": [len(children), len(multiprocessing.active_children())],
    "sockets": [socks, sockets()],
    "thread_names": [t.name for t in threading.enumerate()],
}))
"""


def test_importing_every_module_reads_no_settings_and_starts_nothing() -> None:
    modules = _modules()
    assert "streams.worker.app" in modules and "streams.steps.route" in modules
    out = _run(f"MODULES = {modules!r}\n{IMPORT_EVERYTHING}")
    assert out["settings_created"] == 0, "a module built Settings at import"
    assert out["settings_cached"] == 0, "a module called get_settings() at import"
    threads = out["threads"]
    assert isinstance(threads, list) and threads[1] == threads[0], out["thread_names"]
    assert out["children"] == [0, 0], "a module started a process at import"
    sockets = out["sockets"]
    assert isinstance(sockets, list) and sockets[1] == sockets[0], "a module opened a socket"


def test_the_ingest_side_and_kafka_config_import_without_faust() -> None:
    ingest = [m for m in _modules() if m.startswith("streams.sources")]
    ingest += ["streams.kafka_config", "streams.topic_names", "streams.cli.kafka_topics"]
    code = (
        "import importlib, json, sys\n"
        f"for name in {ingest!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({'faust': sorted(m for m in sys.modules if m.split('.')[0] in "
        "('faust', 'mode', 'aiokafka'))}))\n"
    )
    assert _run(code) == {"faust": []}


def test_the_pure_steps_import_no_faust_kafka_or_elasticsearch() -> None:
    steps = [m for m in _modules() if m.startswith("streams.steps")]
    code = (
        "import importlib, json, sys\n"
        f"for name in {steps!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({'io': sorted({m.split('.')[0] for m in sys.modules} & "
        "{'faust', 'mode', 'aiokafka', 'kafka', 'elasticsearch', 'elastic_transport'})}))\n"
    )
    assert _run(code) == {"io": []}


def _module_level_imports(path: Path, name: str) -> set[str]:
    """streams.* modules imported when ``path`` is imported (not in functions or TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)

    visit(tree.body)
    return found


def test_there_are_no_import_cycles() -> None:
    modules = set(_modules())
    graph = {
        _module_name(p): {m for m in _module_level_imports(p, _module_name(p)) if m in modules}
        for p in PACKAGE.rglob("*.py")
    }
    # Importing a.b.c imports the packages a and a.b first.
    for name in list(graph):
        parts = name.split(".")
        graph[name] |= {".".join(parts[:i]) for i in range(1, len(parts))} & modules
        graph[name].discard(name)

    cycles: list[list[str]] = []

    def walk(node: str, path: list[str], done: set[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in done:
                walk(nxt, [*path, nxt], done)
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            walk(start, [start], done)
    # A package's __init__ importing its own submodule is fine; a real cycle is not.
    real = [c for c in cycles if not all(c[0].startswith(m) or m.startswith(c[0]) for m in c)]
    assert not real, "\n".join(" -> ".join(c) for c in real)
