"""Download a dataset safely: verified, atomic, resumable, and extracted without escaping its folder.

    >>> from cs180utils.machinery.data import download
    >>> download.fetch("lego")                  # -> <cache>/lego_200x200.npz (verified), or a clear error
    >>> download.download_url(url, "x.npz", sha256="...")   # the lower-level step

What can go wrong, and what the user sees instead of a traceback from urllib/socket/tarfile:

- no network / host unreachable / HTTP 404 / timeout -> :class:`DownloadError` (a ``DataNotFoundError``)
  naming the file, where to put it by hand and the URL;
- transfer cut short -> :class:`DownloadError`; the bytes so far stay in ``<file>.part`` and the next call
  resumes them with an HTTP ``Range`` request; nothing under the final name;
- sha256 or size mismatch, an archive member that would land outside the target (absolute path, ``..``,
  a link pointing outside, a device file), or a download the content check refuses (an archive without the
  files the dataset must hold, an npz without its keys, an image that does not open:
  :func:`cs180utils.machinery.data.files.problems`) -> :class:`~cs180utils.machinery.data.DataCorruptError`; the bad download is
  deleted, nothing is left under the final name and nothing is written outside the target folder.

The final file (or folder) appears only by one ``os.replace`` after every check has passed, so a file
under its final name is always complete.  Set ``CS180_OFFLINE=1`` to forbid downloads altogether.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from cs180utils.machinery import config
from cs180utils.machinery.data.files import check_dataset, problems
from cs180utils.machinery.data.registry import DataCorruptError, DataNotFoundError, Dataset, get, where_to_put

CONNECT_TIMEOUT = 15.0   # seconds to open the connection (and wait for the response headers)
READ_TIMEOUT = 60.0      # seconds without a single byte arriving before the transfer is abandoned
CHUNK = 1 << 20          # bytes read per step
USER_AGENT = "cs180utils/0.1 (CS180 workbook; Python urllib)"


class DownloadError(DataNotFoundError):
    """The file could not be downloaded (offline, unreachable, HTTP error, cut short); says what to do."""


def offline() -> bool:
    """True when ``CS180_OFFLINE`` is set to anything but ``""``/``"0"``: no download is attempted."""
    return os.environ.get("CS180_OFFLINE", "") not in ("", "0")


# ---- one URL -> one verified file ----------------------------------------------------------------------

def sha256_of(path: str | os.PathLike, chunk: int = CHUNK) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _set_read_timeout(resp, seconds: float) -> None:
    """After the headers arrived, allow ``seconds`` of silence per read (CPython internals; best effort)."""
    try:
        resp.fp.raw._sock.settimeout(seconds)  # noqa: SLF001
    except AttributeError:
        pass


def _open(url: str, start: int, connect_timeout: float):
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=connect_timeout)


def download_url(url: str, dest: str | os.PathLike, sha256: str | None = None, size: int | None = None, *,
                 resume: bool = True, progress: bool = True, connect_timeout: float = CONNECT_TIMEOUT,
                 read_timeout: float = READ_TIMEOUT, what: str | None = None, hint: str | None = None) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``; rename into place only when complete and verified.

    Args:
        url: http(s) URL.
        dest: final path; its folder is created.  An existing ``dest`` is overwritten only on success.
        sha256: expected hex digest (checked when given); ``size``: expected byte count (checked when given).
        resume: continue an existing ``dest.part`` with a ``Range`` request (restarts if the server ignores it).
            The ``.part`` is locked while in use, so a second process downloading the same file gets a clear
            error instead of interleaving bytes.
        progress: tqdm.auto bar on stderr.
        connect_timeout, read_timeout: seconds (see module constants).
        what: the dataset name used in messages (default: the file name).
        hint: what to do by hand, ending every error message (default: "download it by hand to ``dest``").

    Returns: ``dest`` as a Path.

    Raises:
        DownloadError: network trouble, HTTP error or a transfer cut short (``dest.part`` keeps what arrived).
        DataCorruptError: wrong sha256 / size (``dest.part`` is deleted).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    what = what or dest.name
    hint = f"Or download it by hand and put it at {dest}." if hint is None else hint
    with _exclusive(part, what):
        return _download(url, dest, part, sha256, size, resume, progress, connect_timeout, read_timeout, what, hint)


@contextlib.contextmanager
def _exclusive(part: Path, what: str):
    """Hold an advisory lock on ``part`` so two processes never write the same download (POSIX; released
    by the OS if the process dies).  A ``part`` that stayed empty is removed on the way out."""
    try:
        import fcntl  # noqa: PLC0415
    except ImportError:   # Windows: no advisory locks here
        yield
        return
    fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(f"{what}: {part} is being downloaded by another process right now; wait for it "
                                f"to finish (or stop it) and run again") from None
        try:
            yield
        finally:
            if part.exists() and part.stat().st_size == 0:
                part.unlink(missing_ok=True)
    finally:
        os.close(fd)


def _download(url: str, dest: Path, part: Path, sha256: str | None, size: int | None, resume: bool,
              progress: bool, connect_timeout: float, read_timeout: float, what: str, hint: str) -> Path:
    """The body of :func:`download_url`, run while holding the lock on ``part``."""
    start = part.stat().st_size if (resume and part.exists()) else 0

    def fail(reason: str) -> DownloadError:
        kept = (f" The {part.stat().st_size} bytes received so far are kept in {part}; run the same command "
                f"again to resume." if part.exists() and part.stat().st_size else "")
        return DownloadError(f"{what}: could not download {url} ({reason}).{kept} {hint}".rstrip())

    restart = False
    try:
        try:
            resp = _open(url, start, connect_timeout)
        except urllib.error.HTTPError as exc:
            if exc.code != 416 or not start:
                raise
            # range not satisfiable: the .part is complete only if the server's length equals it
            restart = _content_range(exc.headers.get("Content-Range", ""))[2] != start
            resp, total = None, start
        if resp is not None:
            with resp:
                _set_read_timeout(resp, read_timeout)
                length = resp.headers.get("Content-Length")
                total = int(length) if length is not None and length.isdigit() else None
                if start and getattr(resp, "status", 200) == 206:
                    first, _, whole = _content_range(resp.headers.get("Content-Range", ""))
                    restart = first != start   # not the bytes we asked for: start over without resuming
                    total = whole if whole is not None else (start + total if total is not None else None)
                else:
                    start = 0            # a 200 answer (server ignored the Range): start over
                if not restart:
                    _stream(resp, part, start, total, progress, what)
    except urllib.error.HTTPError as exc:
        raise fail(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason if not isinstance(exc.reason, BaseException) else _describe(exc.reason)
        raise fail(f"{reason}; are you offline?") from None
    except (OSError, ValueError) as exc:   # socket.timeout, ConnectionError, http.client.IncompleteRead, ...
        raise fail(_describe(exc)) from None
    if restart:   # the .part was not a prefix of this file: download it whole (once; resume=False)
        return _download(url, dest, part, sha256, size, False, progress, connect_timeout, read_timeout, what, hint)

    got = part.stat().st_size if part.exists() else 0
    if total is not None and got < total:
        raise fail(f"transfer cut short after {got} of {total} bytes")
    if size is not None and got != size:
        part.unlink(missing_ok=True)
        raise DataCorruptError(f"{what}: {url} gave {got} bytes, expected {size}; the download was deleted. "
                               f"The file on the server may have changed. {hint}")
    if sha256 is not None:
        digest = sha256_of(part)
        if digest.lower() != sha256.lower():
            part.unlink(missing_ok=True)
            raise DataCorruptError(f"{what}: checksum mismatch for {url}: sha256 {digest}, expected {sha256}; "
                                   f"the download was deleted. Run again (a proxy may have altered it). {hint}")
    os.replace(part, dest)
    return dest


def _content_range(value: str) -> tuple[int | None, int | None, int | None]:
    """``"bytes 100-199/200"`` -> (100, 199, 200); ``"bytes */200"`` -> (None, None, 200); junk -> Nones."""
    try:
        unit, _, rest = value.strip().partition(" ")
        span, _, whole = rest.partition("/")
        total = int(whole) if whole.strip().isdigit() else None
        if span.strip() == "*":
            return None, None, total
        first, _, last = span.partition("-")
        return int(first), int(last), total
    except ValueError:
        return None, None, None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def _stream(resp, part: Path, start: int, total: int | None, progress: bool, what: str) -> None:
    """Append (``start`` > 0) or write the body of ``resp`` to ``part``, with a progress bar."""
    from tqdm.auto import tqdm  # noqa: PLC0415

    with open(part, "ab" if start else "wb") as f, \
            tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=what,
                 file=sys.stderr, disable=not progress, leave=True) as bar:
        while True:
            block = resp.read(CHUNK)
            if not block:
                break
            f.write(block)
            bar.update(len(block))
        f.flush()
        os.fsync(f.fileno())


# ---- archives: extract inside the target, never outside -----------------------------------------------

def _unsafe_name(name: str) -> str | None:
    """Why an archive member name is unsafe (absolute, drive letter, ``..``), or None."""
    p = name.replace("\\", "/")
    if p.startswith("/") or (len(p) > 1 and p[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(p).parts:
        return "'..' in path"
    return None


def _inside(base: PurePosixPath, link_target: str) -> bool:
    """Whether ``base / link_target`` (normalised) stays inside the archive root."""
    if link_target.startswith("/") or (len(link_target) > 1 and link_target[1] == ":"):
        return False
    depth = 0
    for part in (base / link_target).parts:
        if part in ("", "."):
            continue
        depth += -1 if part == ".." else 1
        if depth < 0:
            return False
    return True


def check_tar_members(members: list[tarfile.TarInfo]) -> None:
    """Refuse any member that would be written outside the extraction folder (raises DataCorruptError)."""
    for m in members:
        why = _unsafe_name(m.name)
        if why is None and (m.ischr() or m.isblk() or m.isfifo() or m.isdev()):
            why = "device or fifo"
        if why is None and m.issym() and not _inside(PurePosixPath(m.name).parent, m.linkname):
            why = f"symlink to {m.linkname!r} points outside"
        if why is None and m.islnk() and (_unsafe_name(m.linkname) or not _inside(PurePosixPath("."), m.linkname)):
            why = f"hard link to {m.linkname!r} points outside"
        if why:
            raise DataCorruptError(f"refusing archive member {m.name!r}: {why}")


def check_zip_members(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse zip members with absolute paths, ``..`` or symlinks (raises DataCorruptError)."""
    for info in infos:
        why = _unsafe_name(info.filename)
        if why is None and stat.S_ISLNK(info.external_attr >> 16):
            why = "symlink"
        if why:
            raise DataCorruptError(f"refusing archive member {info.filename!r}: {why}")


def extract_archive(archive: str | os.PathLike, into: str | os.PathLike, progress: bool = False) -> Path:
    """Extract a ``.zip`` or ``.tar[.gz|.bz2|.xz]`` into the (new or empty) folder ``into`` after checking
    every member (nothing is written if one is unsafe); returns ``into``.

    Raises DataCorruptError for unsafe or unreadable archives."""
    from tqdm.auto import tqdm  # noqa: PLC0415

    archive, into = Path(archive), Path(into)
    into.mkdir(parents=True, exist_ok=True)

    def bar(members):
        return tqdm(members, desc=f"extracting {archive.name}", unit="file", file=sys.stderr,
                    disable=not progress, leave=True)

    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                check_zip_members(infos)
                for info in bar(infos):
                    zf.extract(info, into)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                check_tar_members(members)
                if hasattr(tarfile, "data_filter"):      # defence in depth (Python >= 3.11.4 / 3.12)
                    tf.extractall(into, members=bar(members), filter="data")
                else:
                    tf.extractall(into, members=bar(members))  # noqa: S202  (members checked above)
        else:
            raise DataCorruptError(f"{archive.name} is neither a zip nor a tar archive")
    except OSError as exc:
        if exc.errno is None:   # e.g. gzip.BadGzipFile: the archive, not the machine
            raise DataCorruptError(f"{archive.name} could not be extracted ({_describe(exc)})") from None
        raise DownloadError(f"could not extract {archive.name} into {into} ({_describe(exc)}); the archive is "
                            f"kept: free some space (or fix the permissions) and run again") from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise DataCorruptError(f"{archive.name} could not be extracted ({_describe(exc)})") from None
    return into


def _content_root(folder: Path) -> Path:
    """The extracted dataset folder: the single top-level folder if the archive has one, else ``folder``."""
    entries = [p for p in folder.iterdir() if p.name not in ("__MACOSX", ".DS_Store")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder


# ---- a registered dataset, end to end ------------------------------------------------------------------

def fetch(name: str, into: str | os.PathLike | None = None, *, force: bool = False, progress: bool = True,
          keep_archive: bool = False, registry: dict[str, Dataset] | None = None) -> Path:
    """Download dataset ``name`` into the folder ``into`` (default: the cache, :func:`config.cache_dir`) and
    return its path.

    Tries the dataset's URL, then its mirrors.  A file or archive is verified (sha256 where known, then the
    content check, :func:`cs180utils.machinery.data.files.problems`) before it appears under its final name; an archive
    is extracted into a temporary folder inside ``into`` and moved into place only when complete.  Already
    present (and not ``force``): checked the same way and returned without any network access (a copy the
    check refuses is a DataCorruptError saying to delete it).

    Raises:
        DownloadError (a DataNotFoundError): offline, ``CS180_OFFLINE=1``, unreachable, HTTP error, cut short.
        DataCorruptError: checksum mismatch, unsafe archive, or the download is not the expected dataset.
    """
    ds = get(name, registry)
    root = Path(into) if into else config.cache_dir()
    final = root / ds.filenames[0]
    if final.exists() and not force:
        check_dataset(ds, final)
        return final
    root.mkdir(parents=True, exist_ok=True)
    errors: list[Exception] = []
    archive = _archive_path(ds, root)
    if archive is not None and archive.is_file():   # left by an earlier run, or put here by hand
        try:
            return _install_archive(ds, archive, root, final, source=str(archive), keep_archive=keep_archive,
                                    progress=progress, replace=force)
        except DataCorruptError as exc:
            errors.append(exc)
    if offline():
        raise DownloadError(f"{name}: not found and downloads are disabled (CS180_OFFLINE is set). "
                            f"{where_to_put(ds, into)}")
    for url in (ds.url, *ds.mirrors):   # a bad or unreachable source: try the next one
        try:
            return _fetch_from(ds, url, root, final, progress=progress, keep_archive=keep_archive, replace=force)
        except (DataCorruptError, DownloadError) as exc:
            errors.append(exc)
    kind = DataCorruptError if all(isinstance(e, DataCorruptError) for e in errors) else DownloadError
    tried = "\n  ".join(str(e).rstrip(".") + "." for e in errors)
    sep = " " if len(errors) == 1 else "\n"
    raise kind(("" if len(errors) == 1 else f"{name}: every source failed:\n  ") + tried + sep
               + where_to_put(ds, into)) from None


def _archive_path(ds: Dataset, root: Path) -> Path | None:
    """Where the dataset's archive is saved (one name for every mirror), or None for a plain file."""
    if ds.archive is None:
        return None
    return root / (ds.archive_name or PurePosixPath(ds.url.split("?")[0]).name)


def _fetch_from(ds: Dataset, url: str, root: Path, final: Path, *, progress: bool, keep_archive: bool,
                replace: bool) -> Path:
    if ds.archive is None:
        tmp_final = final.with_name(final.name + ".download")
        download_url(url, tmp_final, ds.sha256, ds.size, progress=progress, what=ds.name, hint="")
        try:
            check_dataset(ds, tmp_final, advice=False)
        except DataCorruptError as exc:
            tmp_final.unlink(missing_ok=True)
            raise DataCorruptError(f"{ds.name}: the file from {url} was refused and deleted: {exc}") from None
        os.replace(tmp_final, final)
        return final
    archive = _archive_path(ds, root)
    download_url(url, archive, ds.sha256, ds.size, progress=progress, what=ds.name,
                 hint=f"You can also put the downloaded archive at {archive} and run again.")
    return _install_archive(ds, archive, root, final, source=url, keep_archive=keep_archive, progress=progress,
                            replace=replace)


def _install_archive(ds: Dataset, archive: Path, root: Path, final: Path, *, source: str,
                     keep_archive: bool, progress: bool = True, replace: bool = False) -> Path:
    """Extract ``archive`` into a temporary folder inside ``root``, check it, move it to ``final``."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{ds.name}.extract-", dir=root))
    try:
        try:
            if ds.sha256 is not None and sha256_of(archive) != ds.sha256.lower():
                raise DataCorruptError(f"sha256 {sha256_of(archive)}, expected {ds.sha256}")
            extract_archive(archive, tmp, progress=progress)
            content = _content_root(tmp)
            found = problems(ds, content)
            if found:
                raise DataCorruptError(f"it does not hold the {ds.name} dataset: {'; '.join(found)}")
        except DataCorruptError as exc:
            archive.unlink(missing_ok=True)
            raise DataCorruptError(f"{ds.name}: the archive from {source} was refused and deleted: {exc}") from None
        if final.exists() and not replace:   # another process installed it meanwhile: keep theirs
            return check_dataset(ds, final)
        if final.exists():   # force: replace the old copy only now that the new one is complete
            old = final.with_name(final.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(content, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return final
