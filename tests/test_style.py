"""The one figure style: paper widths, legible fonts and the colour-blind-safe palette inside the
driver's figures; nothing global changes."""

import matplotlib

from compare import get_experiment
from compare.plots import MEASURED_COLOR, THEORY_COLOR, new_figure
from compare.style import STYLE, FigureStyle


def test_style_widths_palette_and_no_global_state():
    before = dict(matplotlib.rcParams)
    fig, _ = new_figure()
    assert tuple(fig.get_size_inches()) == (7.0, 7.0 * STYLE.aspect)
    assert tuple(new_figure("column")[0].get_size_inches())[0] == 3.4
    assert (THEORY_COLOR, MEASURED_COLOR) == ("#0072B2", "#D55E00")  # Okabe-Ito blue and vermillion
    with STYLE.context():
        assert matplotlib.rcParams["font.size"] == STYLE.font_size
    assert dict(matplotlib.rcParams) == before
    assert FigureStyle(font_size=11).rc()["axes.labelsize"] == 11


def test_driver_figures_are_drawn_in_the_style(tmp_path):
    spec = get_experiment("linear-denoiser")
    result = spec.run(spec.preset(repeats=20, fresh=20, n="16,24"))
    for fig in result.figures.values():
        ax = fig.axes[0]
        assert ax.xaxis.label.get_fontsize() == STYLE.font_size
        assert all(t.get_fontsize() == STYLE.small_font_size for t in ax.get_xticklabels())
        assert fig.get_size_inches()[0] <= STYLE.page_width
