"""Pairs the files of an LR folder with those of an HR folder: by name, then by content for the rest.

Names are compared without case and without the usual suffixes (`x4`, `_LR`, `_HR`, `-lr`, `_bicx4`, ...). Files
left over are paired by content (see `content_match`), which recovers datasets whose files were renamed,
shuffled or rotated. The outcome is a `PairingReport` that can be printed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from esrgan_jax.data.content_match import NO_MATCH, match_by_content
from esrgan_jax.filekind import misnamed
from esrgan_jax.image.formats import DECODE_ERRORS
from esrgan_jax.image.io import ImageReadError, list_images

# Scale tags may follow the name directly (EDSR's 'babyx4'); words like 'lr' need a separator ('anchor' stays).
_SUFFIX = re.compile(r"(?:[_\-. ]?x\d+|[_\-. ](?:\d+x|lr|hr|gt|sr|bicx?\d*|lrbicx\d+|gtmod\d+|mod\d+))$")


def name_key(stem: str) -> str:
    """'Baby_LRx4' -> 'baby': lower case, scale/LR/HR suffixes stripped (never down to an empty name)."""
    key = stem.lower()
    while (shorter := _SUFFIX.sub("", key)) != key and shorter:
        key = shorter
    return key


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) from the file header, EXIF orientation included, without decoding the pixels.

    Raises:
      ImageReadError: the file is missing or its header is not an image's.
    """
    try:
        with Image.open(path) as im:
            w, h = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                w, h = h, w
    except DECODE_ERRORS as e:
        reason = " ".join(f"{type(e).__name__}: {e}".split())
        raise ImageReadError(misnamed(path, "image") or f"{path}: cannot read image ({reason})") from None
    return h, w


def mod_slack(scale: int) -> int:
    """How many HR pixels beyond scale * LR are accepted: LR made from a mod-crop (e.g. GTmod12) of the HR."""
    return max(12, 3 * scale)


def pair_scale(lr_hw: tuple[int, int], hr_hw: tuple[int, int], slack: int = 12) -> int | None:
    """The integer s with s * LR <= HR < s * LR + slack on both axes, or None."""
    (h, w), (H, W) = lr_hw, hr_hw
    s = H // h if h else 0
    ok = s >= 1 and all(0 <= big - s * small < slack for small, big in ((h, H), (w, W)))
    return s if ok else None


@dataclass(frozen=True)
class Pair:
    """One LR/HR pair. `rotation` k means np.rot90(lr, k) is aligned with the HR."""

    lr: Path
    hr: Path
    scale: int | None
    how: str  # 'name' or 'content'
    rotation: int = 0
    cost: float | None = None  # mean |LR - downscaled HR| on 0-255 (content pairs)
    runner_up: float | None = None  # the next best alternative's cost


@dataclass
class PairingReport:
    """The outcome of `pair_folders`: what was paired, how, and what was refused."""

    lr_dir: Path
    hr_dir: Path
    scale: int
    pairs: list[Pair] = field(default_factory=list)
    ambiguous: list[Pair] = field(default_factory=list)
    unmatched_lr: list[Path] = field(default_factory=list)
    unmatched_hr: list[Path] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)

    @property
    def wrong_scale(self) -> list[Pair]:
        return [p for p in self.pairs if p.scale != self.scale]

    def format(self, verbose: bool = False) -> str:
        """A readable report; every pair is listed when `verbose`, else only content pairs and problems."""
        by = Counter(p.how for p in self.pairs)
        lines = [
            f"pairing {self.lr_dir} (LR) with {self.hr_dir} (HR), x{self.scale}: {len(self.pairs)} pairs "
            f"({by['name']} by name, {by['content']} by content), {len(self.ambiguous)} ambiguous, "
            f"{len(self.unmatched_lr)} unmatched LR, {len(self.unmatched_hr)} unmatched HR, "
            f"{len(self.unreadable)} unreadable"
        ]
        for p in self.pairs:
            if verbose or p.how == "content" or p.scale != self.scale:
                lines.append("  " + _describe(p, "paired" if p.scale == self.scale else "WRONG SCALE"))
        lines += ["  " + _describe(p, "AMBIGUOUS, refused") for p in self.ambiguous]
        lines += [f"  unmatched LR: {p.name}" for p in self.unmatched_lr]
        lines += [f"  unmatched HR: {p.name}" for p in self.unmatched_hr]
        lines += [f"  unreadable: {p}" for p in self.unreadable]
        return "\n".join(lines)


def _describe(p: Pair, status: str) -> str:
    scale = f"x{p.scale}" if p.scale else "no integer scale"
    text = f"{status}: LR {p.lr.name} <-> HR {p.hr.name} ({scale}, by {p.how}"
    if p.rotation:
        text += f", LR turned {90 * p.rotation} degrees counter-clockwise to align"
    if p.cost is not None:
        runner_up = "none" if p.runner_up >= NO_MATCH else f"{p.runner_up:.2f}"
        text += f", mean |diff| {p.cost:.2f}, next best {runner_up}"
    return text + ")"


def pair_folders(
    lr_dir: str | Path, hr_dir: str | Path, scale: int, *, max_cost: float = 10.0, progress: bool = True
) -> PairingReport:
    """Pairs LR files with HR files, by name first and by content for the files left over.

    Args:
      lr_dir: folder of LR images.
      hr_dir: folder of HR images.
      scale: the expected scale; content matching compares HR downscaled by it.
      max_cost: the largest mean |LR - downscaled HR| (0-255) accepted for a content pair.
      progress: show progress bars while matching by content.

    Returns:
      The PairingReport; pairs by name whose sizes do not fit `scale` have `scale` None or another integer.

    Raises:
      UserError: a folder is missing. Unreadable files are listed in the report, not raised.
    """
    lr_dir, hr_dir = Path(lr_dir), Path(hr_dir)
    report = PairingReport(lr_dir, hr_dir, scale)
    sizes = {}
    for p in list_images(lr_dir) + list_images(hr_dir):
        try:
            sizes[p] = image_size(p)
        except ImageReadError:
            report.unreadable.append(p)
    lr_files = [p for p in list_images(lr_dir) if p in sizes]
    hr_files = [p for p in list_images(hr_dir) if p in sizes]
    lr_count = Counter(name_key(p.stem) for p in lr_files)
    hr_count = Counter(name_key(p.stem) for p in hr_files)
    hr_by_key = {name_key(p.stem): p for p in hr_files if hr_count[name_key(p.stem)] == 1}
    left_lr, used_hr = [], set()
    for lr in lr_files:
        key = name_key(lr.stem)
        hr = hr_by_key.get(key) if lr_count[key] == 1 else None
        if hr is None:
            left_lr.append(lr)
            continue
        lr_hw, hr_hw = sizes[lr], sizes[hr]
        s = pair_scale(lr_hw, hr_hw, mod_slack(scale))
        if s is None and pair_scale(lr_hw[::-1], hr_hw, mod_slack(scale)):
            left_lr.append(lr)  # same name but rotated: content decides between 90 and 270 degrees
            continue
        report.pairs.append(Pair(lr, hr, s, "name"))
        used_hr.add(hr)
    left_hr = [p for p in hr_files if p not in used_hr]
    matches = match_by_content(left_lr, left_hr, scale, mod_slack(scale), max_cost, progress, report.unreadable)
    for lr, hr, rotation, cost, runner_up, ambiguous in matches:
        pair = Pair(lr, hr, scale, "content", rotation, cost, runner_up)
        (report.ambiguous if ambiguous else report.pairs).append(pair)
    done = {p.lr for p in report.pairs + report.ambiguous} | {p.hr for p in report.pairs + report.ambiguous}
    bad = set(report.unreadable)
    report.unmatched_lr = [p for p in left_lr if p not in done | bad]
    report.unmatched_hr = [p for p in left_hr if p not in done | bad]
    report.pairs.sort(key=lambda p: p.hr.name)
    return report
