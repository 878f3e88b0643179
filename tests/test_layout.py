"""The house rules of the package layout: small modules and functions, no import cycle, a light
``import taskdd``."""

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "taskdd"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
HEAVY = ("pgmpy", "deepxde", "ray", "matplotlib")


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        name = ".".join(path.relative_to(PKG.parent).with_suffix("").parts).removesuffix(".__init__")
        yield name, path, ast.parse(path.read_text())


def _imports(name: str, tree: ast.AST, known: set[str]) -> set[str]:
    """The taskdd modules ``name`` imports (a package importing its own submodule excluded)."""
    out = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        out |= {t for t in targets if t in known and t != name and not name.startswith(t + ".")}
    return out


def test_no_module_is_over_300_lines_and_no_function_over_60():
    too_long = []
    for name, path, tree in _modules():
        n = len(path.read_text().splitlines())
        if n > MAX_MODULE_LINES:
            too_long.append(f"{name}: {n} lines")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert not too_long, too_long


def test_no_import_cycle_between_modules():
    mods = {name: tree for name, _, tree in _modules()}
    graph = {name: _imports(name, tree, set(mods)) for name, tree in mods.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(u, stack):
        state[u] = 1
        for v in graph[u]:
            if state.get(v) == 1:
                cycles.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v, stack + [v])
        state[u] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_importing_taskdd_loads_no_heavy_library():
    code = ("import sys, taskdd; print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & set(%r))))"
            % (HEAVY,))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""
