"""Multimodal dataset: Twitter's emoji images with their names and categories, from the
npm package `emoji-datasource-twitter` (installed into the data dir on first use)."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from nanoresearch.datasets.registry import DatasetBundle, encode_labels, register, to_unicode
from nanoresearch.errors import RunFailure, UserError
from nanoresearch.types import DatasetCard

log = logging.getLogger(__name__)
NPM_PACKAGE = "emoji-datasource-twitter"
IMG_SIZE = 24  # 64 px source images, downsampled: keeps the staged file ~3 MB


def data_dir() -> Path:
    return Path(os.environ.get("NANORESEARCH_HOME", Path.home() / ".nanoresearch"))


def _candidates(base: Path) -> list[Path]:
    return [base / "npm" / "node_modules" / NPM_PACKAGE,
            Path("/usr/local/lib/node_modules") / NPM_PACKAGE, Path("/usr/lib/node_modules") / NPM_PACKAGE]


def ensure_emoji_package(base: Path | None = None) -> Path:
    """Return the package dir, installing it with npm into `<data_dir>/npm` when missing.
    This is the one step of the catalog that uses the network (the npm registry)."""
    base = base or data_dir()
    for cand in _candidates(base):
        if (cand / "emoji.json").exists():
            return cand
    npm = shutil.which("npm")
    if npm is None:
        raise UserError(f"the multimodal dataset needs the npm package {NPM_PACKAGE}, and npm is not "
                        "installed: `apt-get install npm`, then rerun (or pick another dataset)")
    prefix = base / "npm"
    prefix.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", NPM_PACKAGE]
    log.info("installing dataset package: %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=600)
    target = prefix / "node_modules" / NPM_PACKAGE
    if proc.returncode != 0 or not (target / "emoji.json").exists():
        raise RunFailure(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {proc.stderr[-800:]}; "
                         "check npm registry access and retry")
    log.info("installed %s into %s", NPM_PACKAGE, target)
    return target


@register(DatasetCard(
    name="twemoji", domain="multimodal", task="classification", source=f"npm:{NPM_PACKAGE}",
    size=f"~1900 emoji: {IMG_SIZE}x{IMG_SIZE} RGB image + name text", n_samples=1906,
    targets="9 emoji categories (Smileys & Emotion, People & Body, Flags, ...)",
    license="graphics CC BY 4.0 (Twitter Twemoji); data MIT (emoji-data)", default_metric="accuracy",
    description="Image+text classification: each emoji's 64 px Twemoji PNG (alpha composited on "
                f"white, downsampled to {IMG_SIZE} px) and its lower-cased name; the tiny "
                "'Component' category (5 items) is dropped."))
def _twemoji(card: DatasetCard) -> DatasetBundle:
    from PIL import Image

    pkg = ensure_emoji_package()
    entries = [e for e in json.loads((pkg / "emoji.json").read_text())
               if e.get("has_img_twitter") and e["category"] != "Component"]
    entries.sort(key=lambda e: e["sort_order"])
    imgs, names, cats = [], [], []
    for e in entries:
        path = pkg / "img" / "twitter" / "64" / e["image"]
        if not path.exists():
            continue
        with Image.open(path) as im:
            rgba = im.convert("RGBA").resize((IMG_SIZE, IMG_SIZE), Image.BILINEAR)
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        imgs.append(np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8))
        names.append((e.get("name") or e["short_name"]).lower())
        cats.append(e["category"])
    y, classes = encode_labels(cats)
    return DatasetBundle(card.name, card, {"images": np.stack(imgs), "text": to_unicode(names), "y": y},
                         {"task": "classification", "class_names": classes, "package_dir": str(pkg)})
