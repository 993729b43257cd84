"""Real data first: a missing dataset is downloaded when the network answers (here a server on 127.0.0.1);
stand-ins only when it does not, with a banner naming the stand-in and the fetch command; the full profile
refuses a stand-in unless CS180_ALLOW_STANDIN=1."""
from __future__ import annotations

import dataclasses

import pytest

from cs180utils.machinery import data, notebook
from cs180utils.machinery.data import StandInRefused, lookup

from .test_download import JPG, Route, Server, local_only  # noqa: F401  (local_only: only 127.0.0.1 is contacted)


@pytest.fixture
def fox_server(monkeypatch, tmp_path):
    """The registry's fox served from 127.0.0.1 (one route, hits counted), a private cache, no data folder,
    downloads allowed, the smoke profile, fresh notice/failure memories."""
    server = Server()
    route = Route(JPG)
    url = server.add("/fox.jpg", route)
    monkeypatch.setitem(data.REGISTRY, "fox", dataclasses.replace(data.REGISTRY["fox"], url=url, mirrors=()))
    monkeypatch.setenv("CS180_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CS180_DATA_DIR", raising=False)
    monkeypatch.delenv("CS180_ALLOW_STANDIN", raising=False)
    monkeypatch.setenv("CS180_PROFILE", "smoke")
    monkeypatch.setattr(lookup, "_NOTICED", set())
    monkeypatch.setattr(lookup, "_FAILED", set())
    yield route
    server.close()


def test_missing_data_is_downloaded_into_the_cache_before_any_fallback(fox_server, tmp_path, capsys):
    found = data.find_or_notice("fox", fallback="a built-in photo")
    assert found == tmp_path / "cache" / "fox.jpg" and found.read_bytes() == JPG
    assert len(fox_server.hits) == 1
    assert "NOTICE" not in capsys.readouterr().err                 # no stand-in, no banner
    assert data.find_or_notice("fox") == found and len(fox_server.hits) == 1   # found locally the next time


def test_offline_gives_the_stand_in_with_one_banner_and_one_try(fox_server, capsys):
    fox_server.status = 404                                        # the network does not give the file
    assert data.find_or_notice("fox", fallback="a built-in photo") is None
    assert data.find_or_notice("fox", fallback="a built-in photo") is None
    assert len(fox_server.hits) == 1                               # a failed download is not tried again
    err = capsys.readouterr().err
    assert err.count("NOTICE: real data 'fox' not found; using a built-in photo.") == 1
    assert "HTTP 404" in err and "\n    python -m cs180utils data fetch fox" in err


def test_a_download_that_fails_the_content_check_is_not_used(fox_server, tmp_path, capsys):
    fox_server.body = b"<html>moved</html>"                        # a web page instead of the photo
    assert data.find_or_notice("fox") is None
    assert not (tmp_path / "cache" / "fox.jpg").exists()
    assert "not a readable image" in capsys.readouterr().err


def test_cs180_offline_looks_without_downloading(fox_server, monkeypatch, capsys):
    monkeypatch.setenv("CS180_OFFLINE", "1")
    assert data.find_or_notice("fox") is None and fox_server.hits == []
    assert "CS180_OFFLINE" in capsys.readouterr().err


def test_full_profile_refuses_a_stand_in_unless_allowed(fox_server, monkeypatch, capsys):
    fox_server.status = 404
    monkeypatch.setenv("CS180_PROFILE", "full")
    with pytest.raises(StandInRefused) as err:
        data.find_or_notice("fox", fallback="a built-in photo")
    msg = str(err.value)
    assert "full profile" in msg and "`python -m cs180utils data fetch fox`" in msg and "CS180_ALLOW_STANDIN=1" in msg
    assert isinstance(err.value, data.DataNotFoundError)           # callers that catch not-found catch it too
    assert data.find_or_notice("fox", profile="cpu") is None       # an explicit profile wins over the variable
    monkeypatch.setenv("CS180_ALLOW_STANDIN", "1")
    monkeypatch.setattr(lookup, "_NOTICED", set())
    assert data.find_or_notice("fox", fallback="a built-in photo") is None
    assert "using a built-in photo" in capsys.readouterr().err
    monkeypatch.setenv("CS180_ALLOW_STANDIN", "0")                 # "0" is no
    with pytest.raises(StandInRefused):
        data.find_or_notice("fox")


def test_full_profile_with_the_data_present_runs(fox_server, monkeypatch):
    monkeypatch.setenv("CS180_PROFILE", "full")
    assert data.find_or_notice("fox").name == "fox.jpg"            # downloaded, no refusal


def test_in_a_notebook_the_stand_in_is_a_visible_banner_not_stderr(fox_server, monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(notebook, "in_notebook", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append((obj, raw)))
    fox_server.status = 404
    assert data.find_or_notice("fox", fallback="the terrain map") is None
    assert capsys.readouterr().err == ""
    [(bundle, raw)] = shown
    assert raw and set(bundle) == {"text/html", "text/plain"}
    html = bundle["text/html"]
    assert "Stand-in data: the terrain map" in html and "python -m cs180utils data fetch fox" in html
    assert "real data &#x27;fox&#x27; not found" in html            # escaped, not raw markup
    assert bundle["text/plain"].startswith("NOTICE: real data 'fox' not found; using the terrain map.")


def test_colab_shell_counts_as_a_notebook(monkeypatch):
    """Colab's shell is a subclass of ZMQInteractiveShell with another name; a terminal IPython is not one."""
    zmq = type("ZMQInteractiveShell", (), {})
    colab_shell = type("Shell", (zmq,), {})()
    monkeypatch.setattr("IPython.get_ipython", lambda: colab_shell)
    assert notebook.in_notebook()
    monkeypatch.setattr("IPython.get_ipython", lambda: type("TerminalInteractiveShell", (), {})())
    assert not notebook.in_notebook()


def test_the_banner_in_a_real_kernel_is_html_output_not_stderr(tmp_path, monkeypatch):
    """In a Jupyter kernel (nbclient), an offline lookup shows the banner as a display_data output."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("CS180_OFFLINE", "1")
    monkeypatch.setenv("CS180_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CS180_DATA_DIR", raising=False)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from cs180utils.machinery import data\nprint(data.find_or_notice('fox', fallback='the terrain map'))")])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    kinds = [(o.output_type, o.get("name")) for o in outputs]
    assert kinds == [("display_data", None), ("stream", "stdout")], kinds     # nothing on stderr
    assert "Stand-in data: the terrain map" in outputs[0].data["text/html"] and outputs[1].text == "None\n"
