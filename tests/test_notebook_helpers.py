"""cs180utils.machinery.notebook: a slider's draw function is checked once directly (and shown nowhere), and notices."""
import matplotlib

matplotlib.use("Agg")
import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cs180utils.machinery import notebook  # noqa: E402


def test_slider_calls_draw_once_with_the_starting_values_and_closes_it():
    calls = []

    def draw(a, b):
        calls.append((a, b))
        fig, ax = plt.subplots()
        ax.set_title(f"{a} {b}")
        return fig

    before = len(plt.get_fignums())
    notebook.slider(draw, a=widgets.IntSlider(3, 0, 5), b=widgets.SelectionSlider(options=["x", "y"], value="y"))
    assert calls[0] == (3, "y")
    assert len(plt.get_fignums()) == before   # nothing left open to be shown twice


def test_slider_raises_where_the_cell_sees_it():
    def broken(a):
        raise ZeroDivisionError("inside the slider")

    with pytest.raises(ZeroDivisionError, match="inside the slider"):
        notebook.slider(broken, a=widgets.IntSlider(1, 0, 2))


def test_slider_wants_a_figure():
    with pytest.raises(TypeError, match="must return a matplotlib Figure, got float"):
        notebook.slider(lambda a: 1.5, a=widgets.IntSlider(1, 0, 2))


def test_notice_outside_a_notebook_goes_to_stderr(capsys):
    notebook.notice("real data 'fox' not found")
    assert capsys.readouterr().err == "NOTE: real data 'fox' not found\n"
    assert not notebook.in_notebook()


def test_show_code_prints_the_library_function_with_its_file(capsys):
    from cs180utils.images import mse_to_psnr
    from cs180utils.machinery.notebook import show_code

    show_code(mse_to_psnr)
    out = capsys.readouterr().out
    assert out.startswith("# cs180utils/images.py\ndef mse_to_psnr(")
    assert "log10" in out                       # the body, not only the signature
