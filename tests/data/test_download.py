"""The download path against a local HTTP server on 127.0.0.1 serving archives built inside the tests.

Every failure must end in a clear error, with nothing written outside the target folder and no partial
file under a final name.  No host other than 127.0.0.1 is ever contacted (a guard below enforces it).
"""
from __future__ import annotations

import hashlib
import io
import os
import socket
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from cs180utils.machinery.data import DataCorruptError, DataNotFoundError, Dataset, download
from cs180utils.machinery.data.download import DownloadError, download_url, extract_archive, fetch


# ---- guard: only 127.0.0.1 -------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def local_only(monkeypatch):
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"test tried to contact {host!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    monkeypatch.delenv("CS180_OFFLINE", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)


# ---- a tiny HTTP server: routes -> bodies, with truncation, stalls and Range support ----------------------

class Route:
    def __init__(self, body: bytes = b"", status: int = 200, extra_length: int = 0, stall: float = 0.0,
                 ranges: bool = True, truncate_first: int = 0):
        self.body, self.status, self.extra_length, self.stall = body, status, extra_length, stall
        self.ranges = ranges                  # honour "Range: bytes=N-" with 206
        self.truncate_first = truncate_first  # the first n requests announce the full length but stop halfway
        self.hits: list[str | None] = []      # the Range header of each request


class Server:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                route.hits.append(self.headers.get("Range"))
                if route.status != 200:
                    self.send_error(route.status)
                    return
                body, start = route.body, 0
                rng = self.headers.get("Range")
                if rng and route.ranges and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload) + route.extra_length))
                self.end_headers()
                if route.stall:
                    time.sleep(route.stall)
                    return
                if len(route.hits) <= route.truncate_first:
                    payload = payload[: len(payload) // 2]
                try:
                    self.wfile.write(payload)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                if route.extra_length or len(route.hits) <= route.truncate_first:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


# ---- fixture archives, built in memory --------------------------------------------------------------------

def make_tar(files: dict[str, bytes], links: dict[str, tuple[str, bytes]] | None = None) -> bytes:
    """A .tar.gz of ``files`` plus ``links`` name -> (linkname, tarfile type)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, (target, kind) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            tf.addfile(info)
    return buf.getvalue()


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name), data)  # ZipInfo keeps the name verbatim (even '../')
    return buf.getvalue()


def dataset(url: str, archive: str | None, **kw) -> dict[str, Dataset]:
    kw.setdefault("filenames", ("myset",))
    return {"myset": Dataset(name="myset", url=url, archive=archive, sha256=kw.pop("sha256", None), **kw)}


def leftovers(root: Path) -> list[str]:
    """Everything under ``root`` (relative names), to check that a failure left nothing behind."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def jpeg(colour=(255, 0, 0)) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(buf, format="JPEG")
    return buf.getvalue()


JPG = jpeg()   # the content check opens a sample of a folder's images
GOOD = {"myset/labels_train.xml": b"<dataset/>", "myset/img/a.jpg": b"jpegbytes", "myset/img/b.jpg": b"jpeg2"}


# ---- good archives ----------------------------------------------------------------------------------------

def test_good_tar_gz_extracts_verifies_and_cleans_up(server, tmp_path):
    url = server.add("/myset.tar.gz", Route(make_tar(GOOD, {"myset/latest.xml": ("labels_train.xml",
                                                                                 tarfile.SYMTYPE)})))
    root = tmp_path / "data"
    path = fetch("myset", root, registry=dataset(url, "tar.gz", expect=("labels_train.xml", "img/a.jpg")),
                 progress=False)
    assert path == root / "myset"
    assert (path / "img" / "b.jpg").read_bytes() == b"jpeg2"
    assert (path / "latest.xml").is_symlink() and (path / "latest.xml").read_bytes() == b"<dataset/>"
    # no archive, no .part, no temporary extraction folder left next to it
    assert sorted(p.name for p in root.iterdir()) == ["myset"]
    # present now: a second fetch uses it without touching the network
    hits = len(server.routes["/myset.tar.gz"].hits)
    assert fetch("myset", root, registry=dataset(url, "tar.gz"), progress=False) == path
    assert len(server.routes["/myset.tar.gz"].hits) == hits


def test_good_flat_zip_with_glob_expectations(server, tmp_path):
    files = {f"{i:02d}-1m.asf": b"asf" for i in range(1, 4)} | {f"{i:02d}-1m.jpg": JPG for i in range(1, 4)}
    url = server.add("/faces.zip", Route(make_zip(files)))
    reg = dataset(url, "zip", filenames=("faces",), expect_glob=(("*.asf", 3), ("*.jpg", 3)))
    path = fetch("myset", tmp_path, registry=reg, progress=False)
    assert path == tmp_path / "faces" and sorted(p.name for p in path.iterdir()) == sorted(files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces"]


def test_archive_without_the_expected_files_is_refused(server, tmp_path):
    url = server.add("/wrong.tar.gz", Route(make_tar({"other/readme.txt": b"not the dataset"})))
    with pytest.raises(DataCorruptError, match="labels_train.xml is missing"):
        fetch("myset", tmp_path, registry=dataset(url, "tar.gz", expect=("labels_train.xml",)), progress=False)
    assert leftovers(tmp_path) == []   # archive deleted, temporary folder removed, no final folder


# ---- plain files: checksum, size, contents -----------------------------------------------------------------

def test_download_url_checks_sha256(server, tmp_path):
    body = os.urandom(50_000)
    url = server.add("/blob.bin", Route(body))
    good = download_url(url, tmp_path / "blob.bin", sha256=hashlib.sha256(body).hexdigest(), progress=False)
    assert good.read_bytes() == body

    with pytest.raises(DataCorruptError, match="checksum mismatch") as err:
        download_url(url, tmp_path / "other.bin", sha256="0" * 64, progress=False)
    assert "other.bin" in str(err.value)          # says where it would have gone
    assert not (tmp_path / "other.bin").exists() and not (tmp_path / "other.bin.part").exists()


def test_checksum_mismatch_keeps_previous_file(server, tmp_path):
    url = server.add("/blob.bin", Route(b"new contents"))
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"old verified contents")
    with pytest.raises(DataCorruptError):
        download_url(url, dest, sha256=hashlib.sha256(b"something else").hexdigest(), progress=False)
    assert dest.read_bytes() == b"old verified contents"


def test_npz_missing_keys_is_refused_then_good_one_accepted(server, tmp_path):
    def npz(**arrays) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    route = Route(npz(images=np.zeros((2, 4, 4, 3), np.uint8)))
    url = server.add("/scene.npz", route)
    reg = dataset(url, None, filenames=("scene.npz",), npz_keys=("images", "focal"))
    with pytest.raises(DataCorruptError, match="lacks the keys \\['focal'\\]"):
        fetch("myset", tmp_path, registry=reg, progress=False)
    assert leftovers(tmp_path) == []
    route.body = npz(images=np.zeros((2, 4, 4, 3), np.uint8), focal=np.float64(3.0))
    path = fetch("myset", tmp_path, registry=reg, progress=False)
    assert path == tmp_path / "scene.npz" and np.load(path)["focal"] == 3.0
    assert leftovers(tmp_path) == ["scene.npz"]


def test_an_html_page_instead_of_the_photo_is_refused(server, tmp_path):
    url = server.add("/fox.jpg", Route(b"<html><body>Moved to our new course site</body></html>"))
    reg = dataset(url, None, filenames=("fox.jpg",))
    with pytest.raises(DataCorruptError, match="not a readable image"):
        fetch("myset", tmp_path, registry=reg, progress=False)
    assert leftovers(tmp_path) == []
    buf = io.BytesIO()
    from PIL import Image
    Image.new("RGB", (4, 3), (255, 0, 0)).save(buf, format="JPEG")
    server.routes["/fox.jpg"].body = buf.getvalue()
    assert fetch("myset", tmp_path, registry=reg, progress=False).read_bytes() == buf.getvalue()


def test_a_broken_copy_already_there_is_refused_without_downloading(server, tmp_path):
    """The content check that lookup uses: an empty npz under the final name is not 'already present'."""
    route = Route(b"never asked for")
    url = server.add("/scene.npz", route)
    (tmp_path / "scene.npz").write_bytes(b"")
    reg = dataset(url, None, filenames=("scene.npz",), npz_keys=("images",))
    with pytest.raises(DataCorruptError, match=r"scene.npz is not a usable copy: empty \(0 bytes\)\. Delete it"):
        fetch("myset", tmp_path, registry=reg, progress=False)
    assert route.hits == [] and (tmp_path / "scene.npz").read_bytes() == b""   # the user's file is not touched


# ---- interrupted transfers ---------------------------------------------------------------------------------

def test_truncated_transfer_leaves_no_final_file(server, tmp_path):
    body = os.urandom(40_000)
    url = server.add("/cut.bin", Route(body, extra_length=10_000, ranges=False))   # promises 50 kB, sends 40
    dest = tmp_path / "cut.bin"
    with pytest.raises(DownloadError, match="cut short|IncompleteRead") as err:
        download_url(url, dest, progress=False)
    assert "run the same command again to resume" in str(err.value) and str(dest) in str(err.value)
    assert not dest.exists()
    assert (tmp_path / "cut.bin.part").stat().st_size <= len(body)   # only the .part, never the final name


def test_interrupted_download_resumes_with_range(server, tmp_path):
    body = os.urandom(300_000)
    route = Route(body, truncate_first=1)   # first answer stops halfway, later ones honour Range
    url = server.add("/big.bin", route)
    dest = tmp_path / "big.bin"
    sha = hashlib.sha256(body).hexdigest()
    with pytest.raises(DownloadError):
        download_url(url, dest, sha256=sha, progress=False)
    got = (tmp_path / "big.bin.part").stat().st_size
    assert 0 < got < len(body) and not dest.exists()
    download_url(url, dest, sha256=sha, progress=False)
    assert dest.read_bytes() == body and not (tmp_path / "big.bin.part").exists()
    assert route.hits == [None, f"bytes={got}-"]   # the second request asked only for the rest


def test_complete_part_file_is_accepted_and_a_too_long_one_restarted(server, tmp_path):
    body = os.urandom(5_000)
    route = Route(body)
    url = server.add("/done.bin", route)
    sha = hashlib.sha256(body).hexdigest()
    (tmp_path / "a.bin.part").write_bytes(body)              # finished earlier, killed before the rename
    assert download_url(url, tmp_path / "a.bin", sha256=sha, progress=False).read_bytes() == body
    (tmp_path / "b.bin.part").write_bytes(os.urandom(9_000))   # longer than the file: not ours
    assert download_url(url, tmp_path / "b.bin", sha256=sha, progress=False).read_bytes() == body
    assert route.hits == ["bytes=5000-", "bytes=9000-", None]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.bin"]


def test_restart_after_a_foreign_part_still_reports_a_checksum_mismatch(server, tmp_path):
    url = server.add("/c.bin", Route(b"0123456789"))
    (tmp_path / "c.bin.part").write_bytes(b"x" * 50)   # longer than the file: 416, restart, then verify
    with pytest.raises(DataCorruptError, match="checksum mismatch"):   # not re-wrapped as a network error
        download_url(url, tmp_path / "c.bin", sha256="1" * 64, progress=False)
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="advisory locks are POSIX-only")
def test_a_download_in_progress_elsewhere_is_not_touched(server, tmp_path):
    import fcntl

    url = server.add("/busy.bin", Route(b"payload"))
    part = tmp_path / "busy.bin.part"
    part.write_bytes(b"half")
    with open(part, "ab") as other:   # another process holds the lock on this download
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(DownloadError, match="being downloaded by another process"):
            download_url(url, tmp_path / "busy.bin", progress=False)
    assert part.read_bytes() == b"half" and not (tmp_path / "busy.bin").exists()
    assert server.routes["/busy.bin"].hits == []
    assert download_url(url, tmp_path / "busy.bin", progress=False, resume=False).read_bytes() == b"payload"


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    body = b"abcdefghij" * 1000
    url = server.add("/norange.bin", Route(body, ranges=False))
    (tmp_path / "f.bin.part").write_bytes(b"garbage-from-another-file")
    download_url(url, tmp_path / "f.bin", sha256=hashlib.sha256(body).hexdigest(), progress=False)
    assert (tmp_path / "f.bin").read_bytes() == body


def test_stalled_server_times_out(server, tmp_path):
    url = server.add("/stall.bin", Route(b"x" * 100, stall=3.0))
    with pytest.raises(DownloadError, match="timed out"):
        download_url(url, tmp_path / "stall.bin", progress=False, read_timeout=0.5)
    assert not (tmp_path / "stall.bin").exists()


# ---- archives that try to escape ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind, archive", [
    ("tar.gz", make_tar({"myset/ok.txt": b"ok", "myset/../../escaped.txt": b"pwned"})),
    ("tar.gz", make_tar({"/tmp/cs180-abs-escaped.txt": b"pwned"})),
    ("tar.gz", make_tar({"myset/ok.txt": b"ok"}, {"myset/link": ("../../escaped.txt", tarfile.SYMTYPE)})),
    ("tar.gz", make_tar({"myset/ok.txt": b"ok"}, {"myset/link": ("/etc/passwd", tarfile.SYMTYPE)})),
    ("tar.gz", make_tar({"myset/ok.txt": b"ok"}, {"myset/hard": ("../escaped.txt", tarfile.LNKTYPE)})),
    ("tar.gz", make_tar({"myset/ok.txt": b"ok"}, {"myset/dev": ("", tarfile.CHRTYPE)})),
    ("zip", make_zip({"myset/ok.txt": b"ok", "../escaped.txt": b"pwned"})),
    ("zip", make_zip({"myset/ok.txt": b"ok", "/abs-escaped.txt": b"pwned"})),
], ids=["tar-dotdot", "tar-absolute", "tar-symlink-dotdot", "tar-symlink-absolute", "tar-hardlink",
        "tar-device", "zip-dotdot", "zip-absolute"])
def test_escaping_archive_is_refused(server, tmp_path, kind, archive):
    url = server.add(f"/evil.{kind}", Route(archive))
    root = tmp_path / "deep" / "data"
    with pytest.raises(DataCorruptError, match="refusing archive member"):
        fetch("myset", root, registry=dataset(url, kind), progress=False)
    assert leftovers(tmp_path) == ["deep", "deep/data"]   # nothing extracted, archive deleted, nothing outside
    assert not Path("/tmp/cs180-abs-escaped.txt").exists()


def test_extract_archive_refuses_before_writing_anything(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(make_tar({"a/first.txt": b"1", "a/../../second.txt": b"2"}))
    with pytest.raises(DataCorruptError, match="'\\.\\.' in path"):
        extract_archive(bad, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []   # the good member before the bad one was not written


def test_not_an_archive_is_refused(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"<html>Please log in</html>")
    with pytest.raises(DataCorruptError, match="neither a zip nor a tar"):
        extract_archive(junk, tmp_path / "out")


# ---- unreachable sources -----------------------------------------------------------------------------------

def test_http_404_is_a_clear_error(server, tmp_path):
    url = f"http://127.0.0.1:{server.port}/nope.tar.gz"
    with pytest.raises(DownloadError) as err:
        fetch("myset", tmp_path, registry=dataset(url, "tar.gz"), progress=False)
    msg = str(err.value)
    assert "HTTP 404" in msg and url in msg and str(tmp_path / "myset") in msg   # what, where, the URL
    assert isinstance(err.value, DataNotFoundError) and leftovers(tmp_path) == []


def test_unreachable_port_is_a_clear_error(tmp_path):
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/lego.npz"
    with pytest.raises(DownloadError, match="are you offline") as err:
        fetch("myset", tmp_path, registry=dataset(url, None, filenames=("lego.npz",)), progress=False)
    assert url in str(err.value) and "python -m cs180utils data fetch myset" in str(err.value)
    exc = err.value   # no chained urllib/socket traceback under it
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    assert leftovers(tmp_path) == []


def test_mirror_is_tried_after_a_failing_source(server, tmp_path):
    url = server.add("/mirror.tar.gz", Route(make_tar(GOOD)))
    reg = {"myset": Dataset(name="myset", filenames=("myset",), archive="tar.gz", sha256=None,
                            url=f"http://127.0.0.1:{server.port}/gone.tar.gz", mirrors=(url,),
                            expect=("labels_train.xml",))}
    assert fetch("myset", tmp_path, registry=reg, progress=False) == tmp_path / "myset"


def test_offline_env_disables_downloads(server, tmp_path, monkeypatch):
    route = Route(make_tar(GOOD))
    url = server.add("/myset.tar.gz", route)
    monkeypatch.setenv("CS180_OFFLINE", "1")
    with pytest.raises(DownloadError, match="CS180_OFFLINE"):
        fetch("myset", tmp_path, registry=dataset(url, "tar.gz"), progress=False)
    assert route.hits == [] and leftovers(tmp_path) == []


def test_force_replaces_an_existing_copy_only_when_the_new_one_is_good(server, tmp_path):
    old = tmp_path / "myset"
    old.mkdir()
    (old / "labels_train.xml").write_bytes(b"old")
    url = server.add("/bad.tar.gz", Route(b"not an archive"))
    reg = dataset(url, "tar.gz", expect=("labels_train.xml",))
    with pytest.raises(DataCorruptError):
        fetch("myset", tmp_path, registry=reg, force=True, progress=False)
    assert (old / "labels_train.xml").read_bytes() == b"old"
    server.add("/bad.tar.gz", Route(make_tar(GOOD)))
    fetch("myset", tmp_path, registry=reg, force=True, progress=False)
    assert (old / "labels_train.xml").read_bytes() == b"<dataset/>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["myset"]


def test_registry_fetch_of_real_name_respects_offline(monkeypatch, tmp_path):
    """The real registry path: CS180_OFFLINE stops it before any socket is opened."""
    monkeypatch.setenv("CS180_OFFLINE", "1")
    with pytest.raises(DownloadError) as err:
        download.fetch("lego", tmp_path)
    assert "lego_200x200.npz" in str(err.value) and "inst.eecs.berkeley.edu" in str(err.value)


def test_archive_put_by_hand_is_installed_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("CS180_OFFLINE", "1")
    (tmp_path / "myset.tar.gz").write_bytes(make_tar(GOOD))   # named like the URL's last part
    reg = dataset("http://127.0.0.1:9/files/myset.tar.gz", "tar.gz", expect=("labels_train.xml",))
    assert fetch("myset", tmp_path, registry=reg, progress=False) == tmp_path / "myset"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["myset"]


def test_real_registry_entries_accept_archives_laid_out_like_the_real_ones(server, tmp_path, real_data_dir):
    """The registry's own expectations (files, globs, npz keys) against archives built from the shared data:
    a flat IMM zip, the dlib 300-W tarball's single top-level folder, the plain lego npz."""
    import dataclasses

    from cs180utils.machinery.data import REGISTRY

    imm_dir = real_data_dir / "imm_frontal_face_db"
    imm_zip = make_zip({p.name: p.read_bytes() for p in sorted(imm_dir.iterdir())})
    ibug_dir = real_data_dir / "ibug_300W_large_face_landmark_dataset"
    some = sorted((ibug_dir / "lfpw" / "trainset").iterdir())[:4]
    ibug_tar = make_tar({f"{ibug_dir.name}/{p.relative_to(ibug_dir)}": p.read_bytes()
                         for p in [ibug_dir / "labels_ibug_300W_train.xml", ibug_dir / "labels_ibug_300W_test.xml",
                                   *some]})
    lego = (real_data_dir / "lego_200x200.npz").read_bytes()
    reg = {
        "imm": dataclasses.replace(REGISTRY["imm"], url=server.add("/imm_face_db.zip", Route(imm_zip)), mirrors=()),
        "ibug300w": dataclasses.replace(REGISTRY["ibug300w"], mirrors=(),
                                        url=server.add("/ibug_300W_large_face_landmark_dataset.tar.gz",
                                                       Route(ibug_tar))),
        "lego": dataclasses.replace(REGISTRY["lego"], url=server.add("/lego_200x200.npz", Route(lego)), mirrors=()),
    }
    root = tmp_path / "data"
    imm = fetch("imm", root, registry=reg, progress=False)
    assert imm == root / "imm_face_db" and len(list(imm.glob("*.asf"))) == 120
    ibug = fetch("ibug300w", root, registry=reg, progress=False)
    assert (ibug / "labels_ibug_300W_test.xml").read_bytes() == (ibug_dir / "labels_ibug_300W_test.xml").read_bytes()
    assert fetch("lego", root, registry=reg, progress=False).read_bytes() == lego
    assert sorted(p.name for p in root.iterdir()) == ["ibug_300W_large_face_landmark_dataset", "imm_face_db",
                                                      "lego_200x200.npz"]


def test_disk_full_during_extraction_keeps_the_archive(server, tmp_path, monkeypatch):
    import errno

    url = server.add("/faces.zip", Route(make_zip({"a.asf": b"1", "a.jpg": b"2"})))
    reg = dataset(url, "zip", expect_glob=(("*.asf", 1),))

    def full(self, member, path=None, pwd=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    original = zipfile.ZipFile.extract
    monkeypatch.setattr(zipfile.ZipFile, "extract", full)
    with pytest.raises(DownloadError, match="No space left on device.*the archive is kept"):
        fetch("myset", tmp_path, registry=reg, progress=False)
    assert leftovers(tmp_path) == ["faces.zip"]          # verified download kept; nothing half-extracted
    monkeypatch.setattr(zipfile.ZipFile, "extract", original)
    monkeypatch.setenv("CS180_OFFLINE", "1")             # space freed: installs from the kept archive
    assert fetch("myset", tmp_path, registry=reg, progress=False) == tmp_path / "myset"
    assert leftovers(tmp_path) == ["myset", "myset/a.asf", "myset/a.jpg"]


def test_truncated_gzip_is_corrupt_not_a_disk_problem(tmp_path):
    whole = make_tar({f"x/{i}.bin": os.urandom(2000) for i in range(20)})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataCorruptError, match="could not be extracted"):
        extract_archive(cut, tmp_path / "out")
