"""The package's layers: every module of ``rnnbook`` imports only from layers strictly below its
own -- module-level and function-level imports alike -- so the import graph has no cycle and any
module can be read, tested and imported without the ones above it.  The README draws the same
layers."""

import ast
import importlib
import pathlib
import warnings

import pytest

import rnnbook
from rnnbook import _deprecated

PACKAGE = pathlib.Path(rnnbook.__file__).parent

LAYERS = {
    0: {"_version", "device", "runtime", "profiles", "plotting", "verdicts", "store", "cluster"},
    1: {"checks"},
    2: {"series", "linalg"},
    3: {"concepts", "posdef"},
    4: {"data", "model"},
    5: {"kernels"},
    6: {"empirical", "bounds"},
    7: {"train", "baselines"},
    8: {"engine"},
    9: {"experiments"},
    10: {"report"},
}
#: The package facade, the command line, the alias installer and the deprecated module names:
#: above every layer, so they may import anything (and nothing imports them).
TOP = {"__init__", "__main__", "_deprecated", "sweep", "sweeps"}
LAYER = {mod: k for k, mods in LAYERS.items() for mod in mods}


def rnnbook_imports(path: pathlib.Path) -> set[str]:
    """The ``rnnbook`` modules that ``path`` imports anywhere in its body (functions included);
    "__init__" for an import of the package itself."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and not (node.module or "").startswith("rnnbook"):
                continue
            if node.level > 1:
                raise AssertionError(f"{path.name}: relative import beyond the package")
            base = node.module if node.level else node.module.removeprefix("rnnbook").lstrip(".")
            base = base or ""
            if base:
                found.add(base.split(".")[0])
            else:  # from . import a, b  /  from rnnbook import a
                found.update(a.name if (PACKAGE / f"{a.name}.py").exists() else "__init__"
                             for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "rnnbook":
                    found.add("__init__")
                elif a.name.startswith("rnnbook."):
                    found.add(a.name.split(".")[1])
    return found


GRAPH = {p.stem: rnnbook_imports(p) for p in sorted(PACKAGE.glob("*.py"))}


def test_every_module_has_a_layer():
    placed = set(LAYER) | TOP
    assert set(GRAPH) == placed, (f"modules without a layer: {sorted(set(GRAPH) - placed)}; "
                                  f"layers naming no module: {sorted(placed - set(GRAPH))}")


@pytest.mark.parametrize("module", sorted(set(GRAPH) - TOP))
def test_imports_only_from_lower_layers(module):
    upward = {dep: LAYER.get(dep, "top") for dep in GRAPH[module]
              if dep in TOP or LAYER[dep] >= LAYER[module]}
    assert not upward, f"rnnbook.{module} (layer {LAYER[module]}) imports {upward}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (module -> modules it imports) as a path, or None: depth-first search
    for an edge back to a module still on the stack."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(m, path):
        state[m] = 1
        for dep in sorted(graph.get(m, ())):
            if state.get(dep) == 1:
                return path + [dep]
            if dep not in state and (cycle := visit(dep, path + [dep])):
                return cycle
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m, [m])):
            return cycle
    return None


def test_no_import_cycle():
    # The facade imports every module by design; nothing may import it back.
    graph = {m: set() if m == "__init__" else deps for m, deps in GRAPH.items()}
    assert find_cycle(graph) is None, "import cycle: " + " -> ".join(find_cycle(graph))
    assert not any("__init__" in deps for m, deps in GRAPH.items() if m != "__init__")


def test_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_graph_reader_sees_function_level_imports(tmp_path):
    mod = tmp_path / "toy.py"
    mod.write_text("from .checks import check_int\n\ndef f():\n    from . import engine\n"
                   "    import rnnbook.train\n    from rnnbook.data import finite\n")
    assert rnnbook_imports(mod) == {"checks", "engine", "train", "data"}


@pytest.mark.parametrize(("old", "new"), sorted(_deprecated.MOVED.items()))
def test_moved_name_still_works_with_a_warning(old, new):
    old_mod, old_name = old
    new_obj = getattr(importlib.import_module(f"rnnbook.{new[0]}"), new[1])
    alias = getattr(importlib.import_module(f"rnnbook.{old_mod}"), old_name)
    if callable(new_obj) and not isinstance(new_obj, type):
        assert alias is not new_obj and alias.__wrapped__ is new_obj
        assert f"rnnbook.{new[0]}.{new[1]}" in alias.__doc__
    else:
        assert alias is new_obj  # classes and constants: the same object at both addresses


def test_deprecated_function_warns_and_computes_the_same():
    import torch

    from rnnbook import kernels, train
    rho = torch.linspace(-1, 1, 7, dtype=torch.float64)
    with pytest.warns(DeprecationWarning, match="rnnbook.kernels.sigma"):
        old = kernels.kappa_prime(rho)
    assert torch.equal(old, kernels.sigma(rho))
    with pytest.warns(DeprecationWarning, match="rnnbook.baselines.ntk_diagonal"):
        assert train.ntk_diagonal(3, 2, init="paper") == rnnbook.baselines.ntk_diagonal(3, 2, init="paper")


@pytest.mark.parametrize(("old", "new"), [("sweep", "experiments"), ("sweeps", "experiments")])
def test_deprecated_modules_warn(old, new):
    import sys
    sys.modules.pop(f"rnnbook.{old}", None)
    with pytest.warns(DeprecationWarning, match=f"rnnbook.{new}"):
        shim = importlib.import_module(f"rnnbook.{old}")
    assert shim.run is rnnbook.experiments.run
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.import_module("rnnbook.experiments")


def test_readme_lists_every_deprecated_name():
    readme = (PACKAGE.parent / "README.md").read_text()
    for (old_mod, old_name), (new_mod, new_name) in _deprecated.MOVED.items():
        assert f"| `rnnbook.{old_mod}.{old_name}` | `rnnbook.{new_mod}.{new_name}` |" in readme


@pytest.mark.parametrize("module", sorted(set(GRAPH) - TOP - {"_version"}))
def test_public_modules_declare_all(module):
    mod = importlib.import_module(f"rnnbook.{module}")
    assert isinstance(getattr(mod, "__all__", None), list), f"rnnbook.{module} has no __all__"
    missing = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert not missing, f"rnnbook.{module}.__all__ names what it does not define: {missing}"


def test_tests_cite_sections_of_the_conventions_page():
    """Tests cite the conventions they check as book/conventions.md 'Section title': every cited
    title is a section of that page (the repository stands on its own)."""
    import re

    root = PACKAGE.parent
    page = (root / "book" / "conventions.md").read_text()
    titles = set(re.findall(r"^## (.+)$", page, re.M))
    cited = set()
    for path in set((root / "tests").glob("test_*.py")) - {pathlib.Path(__file__)}:
        text = " ".join(path.read_text().split())
        cited |= set(re.findall(r"book/conventions\.md,? \(?'([^']+)'", text))
    assert cited, "no test cites the conventions page"
    # a title may carry math ("The scale of $B$") and equation numbers after a comma
    plain = {re.sub(r"\$([^$]*)\$", r"\1", t).split(", eq")[0] for t in titles}
    assert cited <= plain, f"cited sections missing from book/conventions.md: {sorted(cited - plain)}"
