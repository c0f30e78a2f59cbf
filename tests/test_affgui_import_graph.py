"""No import circle anywhere in affgui, as grimp sees the code (lazy and TYPE_CHECKING imports too).

The affgui layers contract in pyproject.toml orders the GUI's top-level modules (app, shell,
parts, session and widgets); this test covers the whole package, packages inside it
included, and says which imports would break a circle. A part that needs the window types
it as :class:`affgui.shell.Shell`; a part that needs another part asks the session.
"""

import grimp
import pytest

GRAPH = grimp.build_graph("affgui", exclude_type_checking_imports=False)
PACKAGES = sorted(m for m in GRAPH.modules if GRAPH.find_children(m))


def _where(importer: str, imported: str) -> str:
    lines = [d["line_number"] for d in GRAPH.get_import_details(importer=importer, imported=imported)]
    return f"{importer} -> {imported} (line {', '.join(map(str, lines))})"


def test_affgui_has_its_packages():
    assert {"affgui", "affgui.widgets", "affgui.predictions", "affgui.parts.results"} <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle_in(package):
    breakers = GRAPH.nominate_cycle_breakers(package)
    assert not breakers, (f"{package} has an import circle; removing these would break it: "
                          + "; ".join(sorted(_where(a, b) for a, b in breakers)))


def test_no_part_imports_the_window():
    importers = {m for m in GRAPH.find_modules_that_directly_import("affgui.main_window")}
    assert importers <= {"affgui.app", "affgui.self_test"}, sorted(importers)
