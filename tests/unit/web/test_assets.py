"""module_graph: every module the page's entry reaches, so the page can preload them all."""

from __future__ import annotations

from pathlib import Path

from server.web.assets import asset_dir, module_graph


def test_the_graph_follows_imports_through_levels_and_cycles(tmp_path: Path) -> None:
    (tmp_path / "main.js").write_text('import { a } from "./a.js";\n// import { x } from "./x.js";\n')
    (tmp_path / "a.js").write_text('import {\n  b,\n  c,\n} from "./b.js";\nimport { m } from "./main.js";\n')
    (tmp_path / "b.js").write_text("import { a } from './a.js';\nexport const b = 1;\n")
    assert module_graph(tmp_path, "main.js") == ("a.js", "b.js")


def test_every_module_of_the_page_is_in_its_graph() -> None:
    static = asset_dir("static")
    modules = {p.name for p in static.glob("*.js")} - {"main.js"}
    assert set(module_graph(static, "main.js")) == modules
