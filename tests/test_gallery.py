"""The figure gallery: one command runs the presets, copies every figure and writes a page whose
every picture exists and has a title (here on a small linear-denoiser preset)."""

import re

from compare.cli import main
from compare.gallery import build_gallery

SMALL = {"linear-denoiser": dict(repeats=20, fresh=20, n="16,24")}


def test_the_gallery_page_shows_every_figure(tmp_path):
    page = build_gallery(tmp_path / "docs", tmp_path / "work", ["linear-denoiser"], overrides=SMALL)
    text = page.read_text()
    links = re.findall(r"!\[([^\]]*)\]\(([^)]+)\)", text)
    assert {p.split("/")[-1] for _, p in links} == {"relative_distance.png", "variance.png"}
    for title, path in links:
        assert title.strip() and (page.parent / path).stat().st_size > 1000
    assert "## linear-denoiser" in text and "regimes gallery" in text and "with {'repeats': 20" in text
    again = build_gallery(tmp_path / "docs", tmp_path / "work", ["linear-denoiser"], overrides=SMALL)
    assert "stages reused" in again.read_text()  # the second call reuses the stored runs


def test_cli_gallery_refuses_an_unknown_experiment(tmp_path, capsys):
    assert main(["gallery", "--only", "nope", "--docs", str(tmp_path / "d"), "--work", str(tmp_path / "w")]) == 2
    assert "--only: unknown experiment 'nope'" in capsys.readouterr().err


def test_a_partial_gallery_run_keeps_the_other_sections(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "figures.md").write_text("# Figure gallery\n\nold head\n\n## gaussian-mixture\n\nkept text\n\n"
                                     "## linear-denoiser\n\nstale text\n")
    text = build_gallery(docs, tmp_path / "work", ["linear-denoiser"], overrides=SMALL).read_text()
    assert "kept text" in text and "stale text" not in text and "old head" not in text
    assert text.index("## gaussian-mixture") < text.index("## linear-denoiser")  # the registry's order
    assert "Last partial run: linear-denoiser." in text
