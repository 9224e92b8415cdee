"""Finding the media files a user points vidseek at."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg .ts .mts .m2ts .flv .wmv .3gp .ogv .vob .divx".split()
)
IMAGE_EXTENSIONS = frozenset(".jpg .jpeg .png .webp .bmp".split())


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)  # absolute, sorted, unique
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, cause) for arguments that are no media


def discover(paths: list[str | os.PathLike], images: bool = False) -> Discovery:
    """Expand files and folders (recursively) into the media files to process.

    A file named explicitly is always taken (its content decides later whether it is a video);
    inside folders only files with a known video (and, with ``images``, image) extension are taken.
    Symbolic links to folders are not followed (no loops); a missing argument is a problem, not an
    exception, so one typo does not stop a batch.
    """
    wanted = VIDEO_EXTENSIONS | (IMAGE_EXTENSIONS if images else frozenset())
    found: dict[str, Path] = {}
    out = Discovery()
    for arg in paths:
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
