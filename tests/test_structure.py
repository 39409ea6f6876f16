"""The package's shape: stage subpackages, no module over 400 lines, no import cycles, ``python -m pitchprobe``."""

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "pitchprobe"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = p
    return out


def _imports(path: Path, modules: dict) -> set[str]:
    """Package modules imported at module level (imports inside functions are deferred, so cannot cycle at import)."""
    out = set()
    for node in ast.parse(path.read_text()).body:
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        out |= {n for n in names if n in modules}
    return out


def test_no_module_is_over_400_lines():
    long = {m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_no_import_cycles():
    modules = _modules()
    graph = {m: _imports(p, modules) - {m} for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for n in graph[m]:
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack, m, n]))
            if n not in state:
                visit(n, [*stack, m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_python_dash_m_pitchprobe():
    out = subprocess.run([sys.executable, "-m", "pitchprobe", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "study" in out.stdout, out.stderr


STAGES = {"core": 0, "data": 1, "labels": 2, "models": 2, "probe": 3, "study": 4, "analysis": 5, "cli": 6}


def test_stages_import_only_earlier_ones():
    """core, data, labels/models, probe, study, analysis, cli: each imports only itself and those before it
    (deferred imports inside functions too: a later stage is run after, never from, an earlier one)."""
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        parts = name.split(".")
        if len(parts) < 3 or parts[1] not in STAGES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported = [node.module]
            elif isinstance(node, ast.Import):
                imported = [a.name for a in node.names]
            else:
                continue
            for module in (m for m in imported if m.startswith("pitchprobe.")):
                stage = module.split(".")[1]
                if stage in STAGES and STAGES[stage] > STAGES[parts[1]]:
                    wrong.append(f"{name} imports {module}")
    assert not wrong, wrong
