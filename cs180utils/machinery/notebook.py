"""What notebooks need twice: sliders that show only their figure, an upload button that redraws one, and
notices a student sees as a note.

    slider(draw, L=widgets.SelectionSlider(options=[0, 2, 5], value=5), D=widgets.IntSlider(64, 16, 256))
    notice("real data 'fox' not found; using ...")
    banner("Stand-in data", "lego was not found; ...", ["python -m cs180utils data fetch lego"])

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
    # Colab's shell is a subclass (google.colab._shell.Shell), so look along the class hierarchy
    return shell is not None and any(c.__name__ == "ZMQInteractiveShell" for c in type(shell).__mro__)


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


def _show(html_text: str, plain: str) -> None:
    """Display one output with an HTML and a plain-text form (the text is what a terminal or nbconvert shows)."""
    from IPython.display import display  # noqa: PLC0415

    display({"text/html": html_text, "text/plain": plain}, raw=True)


def notice(text: str, title: str = "Note") -> None:
    """Tell the user something they should act on: a visible note in a notebook (not the red stderr box), a line
    on stderr elsewhere."""
    if in_notebook():
        _show('<div style="border-left: 4px solid #e0a800; background: #fff8e1; color: #333; '
              'padding: 6px 10px; margin: 4px 0;"><b>' + html.escape(title) + ":</b> " + html.escape(text) + "</div>",
              f"{title.upper()}: {text}")
    else:
        print(f"{title.upper()}: {text}", file=sys.stderr)


def upload_box(draw: Callable[..., object], accept: str = "image/*", description: str = "Upload photos"):
    """The widgets of :func:`upload`, not displayed: a ``VBox`` of the ``FileUpload`` button (``box.children[0]``)
    and the ``Output`` its figures go to (``box.children[1]``)."""
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
    return widgets.VBox([button, out])


def upload(draw: Callable[..., object], accept: str = "image/*", description: str = "Upload photos") -> None:
    """Show a ``FileUpload`` button; each time files are picked, ``draw(files)`` (``files``: the widget's value,
    dicts with ``name`` and ``content``) is shown below it in place of the last figure.

    Call ``draw(())`` once yourself first, for the cell's own figure: with nothing uploaded (and headless,
    where nothing can be) the cell still shows and checks the result. An error inside ``draw`` (an unreadable
    upload) is printed below the button: ipywidgets would otherwise swallow it. Returns None, like
    :func:`slider`: as a cell's last line it shows the button once (a returned widget would be shown again as
    the cell's value); :func:`upload_box` gives the widgets without showing them.
    """
    from IPython.display import display  # noqa: PLC0415

    display(upload_box(draw, accept, description))


def banner(title: str, text: str, commands: list[str] = (), label: str = "WARNING") -> None:
    """A warning no one scrolls past: a red-bordered box in a notebook (title, text, the commands that fix it);
    elsewhere (a headless run, ``make run``'s log) ``label: text`` and the commands on stderr."""
    plain = "\n".join([f"{label}: {text}", *(f"    {c}" for c in commands)])
    if not in_notebook():
        print(plain, file=sys.stderr)
        return
    code = "".join(f"<pre style=\"margin: 4px 0; background: #fff; padding: 4px 8px;\">{html.escape(c)}</pre>"
                   for c in commands)
    _show('<div style="border: 3px solid #c62828; background: #ffebee; color: #222; padding: 8px 12px; '
          'margin: 6px 0; font-size: 110%;"><b style="color: #c62828;">&#9888; ' + html.escape(title)
          + "</b><br>" + html.escape(text) + code + "</div>", plain)


def show_code(*functions: Callable) -> None:
    """Show the source of ``functions`` (the course library's own code, the very function the training calls)
    as a Python code block: highlighted in a notebook, plain text in a terminal or nbconvert.

        show_code(steps.heatmap_step)   # notebook 08: the loss and step, where the notebook explains them
    """
    import inspect  # noqa: PLC0415
    import textwrap  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    import cs180utils  # noqa: PLC0415

    top = Path(cs180utils.__file__).resolve().parent.parent
    sources = []
    for fn in functions:
        where = Path(inspect.getsourcefile(fn)).resolve()
        where = where.relative_to(top) if where.is_relative_to(top) else where
        sources.append(f"# {where.as_posix()}\n" + textwrap.dedent(inspect.getsource(fn)).rstrip())
    code = "\n\n\n".join(sources)
    if not in_notebook():
        print(code)
        return
    from IPython.display import Markdown, display  # noqa: PLC0415

    display(Markdown(f"```python\n{code}\n```"))
