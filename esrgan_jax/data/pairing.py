"""Pairs the files of an LR folder with those of an HR folder: by name, then by content for the rest.

Names are compared without case and without the usual suffixes (`x4`, `_LR`, `_HR`, `-lr`, `_bicx4`, ...). Files
left over are paired by content: each HR is downscaled with the MATLAB bicubic (`bicubic_downscale`) and
compared, by mean absolute difference, with every LR of a compatible size in each 90-degree rotation; the
assignment is solved globally (Hungarian algorithm) and a pair is refused as ambiguous unless its cost is small
and clearly below the next best alternative for either of its files. This recovers datasets whose files were
renamed, shuffled or rotated, as the seed's was.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.optimize import linear_sum_assignment
from tqdm import tqdm

from esrgan_jax.data.formats import DECODE_ERRORS
from esrgan_jax.data.imageio import ImageReadError, list_images, read_uint8
from esrgan_jax.data.resize import bicubic_downscale

# Scale tags may follow the name directly (EDSR's 'babyx4'); words like 'lr' need a separator ('anchor' stays).
_SUFFIX = re.compile(r"(?:[_\-. ]?x\d+|[_\-. ](?:\d+x|lr|hr|gt|sr|bicx?\d*|lrbicx\d+|gtmod\d+|mod\d+))$")
_NO_MATCH = 1e9


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
        raise ImageReadError(f"{path}: cannot read image ({type(e).__name__}: {e})") from None
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
        runner_up = "none" if p.runner_up >= _NO_MATCH else f"{p.runner_up:.2f}"
        text += f", mean |diff| {p.cost:.2f}, next best {runner_up}"
    return text + ")"


def _cost(down: np.ndarray, lr: np.ndarray, slack: int) -> float:
    """Mean |LR - downscaled HR| over the LR, allowing the HR to be a few LR pixels larger (mod-crop)."""
    h, w = lr.shape[:2]
    if not (0 <= down.shape[0] - h < slack and 0 <= down.shape[1] - w < slack):
        return _NO_MATCH
    d = down[:h, :w]
    if d.shape[-1] != lr.shape[-1]:  # gray vs colour: compare brightness
        d, lr = d.mean(-1, keepdims=True), lr.mean(-1, keepdims=True)
    return float(np.abs(d - lr).mean())


def _match_by_content(
    lrs: list[Path], hrs: list[Path], scale: int, max_cost: float, progress: bool, unreadable: list[Path]
) -> tuple[list[Pair], list[Pair]]:
    """Global content assignment of `lrs` to `hrs`. Returns (accepted pairs, ambiguous pairs)."""
    if not lrs or not hrs:
        return [], []
    slack = (mod_slack(scale) - 1) // scale + 1  # in LR pixels
    lr_imgs = {}
    for p in tqdm(lrs, desc="pairing: LR", disable=not progress):
        try:
            lr_imgs[p] = read_uint8(p).astype(np.float32)
        except ImageReadError:
            unreadable.append(p)
    lrs = list(lr_imgs)
    # Only the downscaled HRs are kept: memory stays at about one HR plus the LR set.
    downs = {}
    for p in tqdm(hrs, desc="pairing: HR", disable=not progress):
        try:
            downs[p] = bicubic_downscale(read_uint8(p), scale).astype(np.float32)
        except ImageReadError:
            unreadable.append(p)
    hrs = list(downs)
    if not lrs or not hrs:
        return [], []
    cost = np.full((len(hrs), len(lrs), 4), _NO_MATCH, np.float64)
    for i, down in enumerate(downs.values()):
        for j, lr in enumerate(lr_imgs.values()):
            for k in range(4):
                cost[i, j, k] = _cost(down, np.rot90(lr, k), slack)
    best_k = cost.argmin(axis=2)
    best = cost.min(axis=2)
    second_rotation = np.sort(cost, axis=2)[:, :, 1]
    rows, cols = linear_sum_assignment(best)
    accepted, ambiguous = [], []
    for i, j in zip(rows, cols, strict=True):
        c = best[i, j]
        if c > max_cost:
            continue
        others = np.concatenate([np.delete(best[i], j), np.delete(best[:, j], i), [second_rotation[i, j]]])
        runner_up = float(others.min())
        pair = Pair(lrs[j], hrs[i], scale, "content", int(best_k[i, j]), float(c), runner_up)
        # Exact MATLAB pairs cost ~0; a re-encoded LR costs a little; unrelated images cost tens of levels.
        (accepted if runner_up >= 2.0 * c + 1.0 else ambiguous).append(pair)
    return accepted, ambiguous


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
    accepted, report.ambiguous = _match_by_content(left_lr, left_hr, scale, max_cost, progress, report.unreadable)
    report.pairs += accepted
    done = {p.lr for p in report.pairs + report.ambiguous} | {p.hr for p in report.pairs + report.ambiguous}
    bad = set(report.unreadable)
    report.unmatched_lr = [p for p in left_lr if p not in done | bad]
    report.unmatched_hr = [p for p in left_hr if p not in done | bad]
    report.pairs.sort(key=lambda p: p.hr.name)
    return report
