"""Where datasets are looked for: an explicit root, else ``$GENZOO_DATA``, else the user cache dir."""
from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

#: Seconds a download may wait on a silent connection before it counts as failed ($GENZOO_DOWNLOAD_TIMEOUT).
DEFAULT_DOWNLOAD_TIMEOUT = 60.0


def cache_dir() -> Path:
    """The user cache dir: ``$GENZOO_CACHE``, else ``$XDG_CACHE_HOME/genzoo``, else ``~/.cache/genzoo``."""
    if os.environ.get("GENZOO_CACHE"):
        return Path(os.environ["GENZOO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genzoo"


def search_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """The places looked in, in order: ``root`` if given, ``$GENZOO_DATA`` if set, then the cache dir."""
    roots = []
    if root is not None:
        roots.append(Path(root))
    if os.environ.get("GENZOO_DATA"):
        roots.append(Path(os.environ["GENZOO_DATA"]))
    roots.append(cache_dir())
    return roots


def download_timeout() -> float:
    return float(os.environ.get("GENZOO_DOWNLOAD_TIMEOUT", DEFAULT_DOWNLOAD_TIMEOUT))


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    """A default timeout for every socket opened inside (urllib's and torchvision's downloads set none)."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


class DataNotFoundError(FileNotFoundError):
    """Raised when dataset files are in none of the search roots and could not be downloaded."""


def find_files(relpaths: list[str], root=None, download=None) -> Path:
    """The first search root holding every one of ``relpaths``.

    If none does and ``download`` is given, it is called with the cache dir to fetch the files there (on
    machines with internet). Failing that, the error names the missing files and every place looked in.
    """
    roots = search_roots(root)
    for candidate in roots:
        if all((candidate / rel).is_file() for rel in relpaths):
            return candidate
    reason = "no download source"
    if download is not None:
        target = cache_dir()
        try:
            with _socket_timeout(download_timeout()):
                download(target)
        except Exception as exc:  # no network, a silent server, a moved source: reported with the paths below
            reason = f"download failed: {exc}"
        else:
            if all((target / rel).is_file() for rel in relpaths):
                return target
            reason = "download did not produce every file"
    raise DataNotFoundError(
        f"dataset files {', '.join(relpaths)} not found ({reason}). Looked in: "
        + ", ".join(str(r) for r in roots)
        + ". Pass a data root (--data-root / data.root) or set GENZOO_DATA to a folder that holds them."
    )
