"""What notebooks need twice: sliders that show only their figure, an upload button that redraws one, and
notices a student sees as a note.

    slider(draw, L=widgets.SelectionSlider(options=[0, 2, 5], value=5), D=widgets.IntSlider(64, 16, 256))
    notice("real data 'fox' not found; using ...")

``draw(**values)`` returns a matplotlib ``Figure`` and shows nothing itself. :func:`slider` calls it once
directly with the widgets' starting values (ipywidgets swallows exceptions raised inside ``interact``
callbacks, so a broken ``draw`` must fail here, where nbval sees it) and closes that figure unseen; the live
widget then shows the figure ``draw`` returns for each setting, and nothing else (no return value, no second copy).
"""
from __future__ import annotations

import html
import sys
from typing import Callable


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell), False in a terminal or a plain script."""
    try:
        from IPython import get_ipython  # noqa: PLC0415
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def slider(draw: Callable[..., object], **controls) -> None:
    """An ``interact`` over ``controls`` (ipywidgets) that shows only the figure ``draw(**values)`` returns.

    ``draw`` is first called once directly with every control's ``value`` (errors surface in the cell), and its
    figure closed without being shown.
    """
    import ipywidgets as widgets  # noqa: PLC0415
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from IPython.display import display  # noqa: PLC0415

    fig = draw(**{name: w.value for name, w in controls.items()})
    if not hasattr(fig, "savefig"):
        raise TypeError(f"{getattr(draw, '__name__', 'draw')} must return a matplotlib Figure, got {type(fig).__name__}")
    plt.close(fig)

    def show(**values) -> None:
        figure = draw(**values)
        display(figure)
        plt.close(figure)

    widgets.interact(show, **controls)


def notice(text: str, title: str = "Note") -> None:
    """Tell the user something they should act on: a visible note in a notebook (not the red stderr box), a line
    on stderr elsewhere."""
    if in_notebook():
        from IPython.display import HTML, display  # noqa: PLC0415

        display(HTML('<div style="border-left: 4px solid #e0a800; background: #fff8e1; color: #333; '
                     'padding: 6px 10px; margin: 4px 0;"><b>' + html.escape(title) + ":</b> "
                     + html.escape(text) + "</div>"))
    else:
        print(f"{title.upper()}: {text}", file=sys.stderr)


def upload(draw: Callable[..., object], accept: str = "image/*", description: str = "Upload photos"):
    """A ``FileUpload`` button; each time files are picked, ``draw(files)`` (``files``: the widget's value, dicts
    with ``name`` and ``content``) is shown below it in place of the last figure. Returns the button.

    Call ``draw(())`` once yourself first, for the cell's own figure: with nothing uploaded (and headless,
    where nothing can be) the cell still shows and checks the result. An error inside ``draw`` (an unreadable
    upload) is printed below the button: ipywidgets would otherwise swallow it.
    """
    import ipywidgets as widgets  # noqa: PLC0415
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from IPython.display import display  # noqa: PLC0415

    button = widgets.FileUpload(accept=accept, multiple=True, description=description)
    out = widgets.Output()

    def redraw(change) -> None:
        with out:
            out.clear_output(wait=True)
            try:
                figure = draw(change["new"])
            except Exception as exc:  # noqa: BLE001 - shown to the user, who can pick other files
                print(f"error: {exc}")
                return
            display(figure)
            plt.close(figure)

    button.observe(redraw, names="value")
    display(widgets.VBox([button, out]))
    return button
