"""The browser test's redraw times in pytest's summary, passed or failed, without ``-s``: a slow machine shows there
without a timed assertion failing."""


def pytest_terminal_summary(terminalreporter):
    from .test_jupyterlab import CHANGE_WITHIN_S, REDRAWS  # noqa: PLC0415

    if not REDRAWS:
        return
    tr = terminalreporter
    tr.section(f"JupyterLab slider redraw times (bar {CHANGE_WITHIN_S:.0f} s)")
    for name, slider, seconds in REDRAWS:
        tr.write_line(f"{name:<42} {slider:<40} {seconds:6.2f} s")
    times = sorted(s for _, _, s in REDRAWS)
    tr.write_line(f"{len(times)} redraws: median {times[len(times) // 2]:.2f} s, slowest {times[-1]:.2f} s")
