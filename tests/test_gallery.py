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
