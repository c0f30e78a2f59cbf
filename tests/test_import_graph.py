"""No import circle inside any engine package, as grimp sees the code (lazy and TYPE_CHECKING imports too).

The layers contract in pyproject.toml orders the engine's packages; this test
covers what it cannot: the modules *inside* each package. A circle there
(``_data`` builds the sections, a section imports ``_data``) means neither
module can be read, tested or moved alone; break it by moving the shared part
down into a lower module or by passing it in as an argument.
"""

import grimp
import pytest

GRAPH = grimp.build_graph("engine", exclude_type_checking_imports=False)
PACKAGES = sorted(m for m in GRAPH.modules if GRAPH.find_children(m))


def _where(importer: str, imported: str) -> str:
    lines = [d["line_number"] for d in GRAPH.get_import_details(importer=importer, imported=imported)]
    return f"{importer} -> {imported} (line {', '.join(map(str, lines))})"


def test_the_engine_has_packages():
    assert {"engine.store", "engine.report", "engine.final", "engine.io"} <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle_among_the_modules_of(package):
    breakers = GRAPH.nominate_cycle_breakers(package)
    assert not breakers, (f"{package} has an import circle; removing these would break it: "
                          + "; ".join(sorted(_where(a, b) for a, b in breakers)))


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_the_package_that_imports_it(package):
    """``from engine.store import x`` inside engine.store closes a circle when ``__init__`` imports it."""
    inside = GRAPH.find_descendants(package)
    back = sorted(m for m in GRAPH.find_modules_that_directly_import(package)
                  if m in inside and GRAPH.chain_exists(importer=package, imported=m))
    assert not back, [_where(m, package) for m in back]


@pytest.mark.parametrize("package", ["engine.jobs", "engine.store", "engine.report"])
def test_star_import_finds_every_public_name(package):
    """``__all__`` names only what the package has (moved names are not left behind)."""
    exec(f"from {package} import *", {})
