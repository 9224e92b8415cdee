"""Finding the media files a user points vidseek at."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .storage import is_uri, list_objects, object_info

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg .ts .mts .m2ts .flv .wmv .3gp .ogv .vob .divx".split()
)
IMAGE_EXTENSIONS = frozenset(".jpg .jpeg .png .webp .bmp".split())


def is_image_path(path: str | os.PathLike) -> bool:
    return PurePosixPath(str(path)).suffix.lower() in IMAGE_EXTENSIONS


@dataclass
class Discovery:
    files: list[Path | str] = field(default_factory=list)  # absolute paths and s3:// URIs (str), sorted, unique
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, cause) for arguments that are no media


def discover(paths: list[str | os.PathLike], images: bool = False) -> Discovery:
    """Expand files and folders (recursively) into the media files to process.

    A file named explicitly is always taken (its content decides later whether it is a video);
    inside folders only files with a known video (and, with ``images``, image) extension are taken.
    Symbolic links to folders are not followed (no loops); a missing argument is a problem, not an
    exception, so one typo does not stop a batch.  An ``s3://`` URI is an object or a prefix (a "folder").
    """
    wanted = VIDEO_EXTENSIONS | (IMAGE_EXTENSIONS if images else frozenset())
    found: dict[str, Path] = {}
    out = Discovery()
    for arg in paths:
        if is_uri(str(arg)):
            _discover_uri(str(arg), wanted, found, out)
            continue
        p = Path(arg)
        if p.is_dir():
            for root, dirs, names in os.walk(p, followlinks=False):
                dirs.sort()
                for name in sorted(names):
                    if Path(name).suffix.lower() in wanted and not name.startswith("."):
                        f = Path(root, name).absolute()
                        found.setdefault(str(f), f)
                # a folder that looks like a video file is reported, not silently skipped
                for d in dirs:
                    if Path(d).suffix.lower() in wanted:
                        out.problems.append((str(Path(root, d)), "is a directory, not a media file"))
        elif p.exists() or p.is_symlink():
            f = p.absolute()
            found.setdefault(str(f), f)
        else:
            out.problems.append((str(p), "no such file or directory"))
    out.files = [found[k] for k in sorted(found)]
    return out


def _discover_uri(uri: str, wanted: frozenset[str], found: dict, out: Discovery) -> None:
    """An object is taken as named; a prefix contributes its objects with a known extension."""
    uri = uri.rstrip("/")
    if object_info(uri).type.name == "File":
        found.setdefault(uri, uri)
        return
    objects = list_objects(uri)
    if not objects:
        out.problems.append((uri, "no such object or prefix"))
    for o in objects:
        name = PurePosixPath(o).name
        if PurePosixPath(name).suffix.lower() in wanted and not name.startswith("."):
            found.setdefault(o, o)
