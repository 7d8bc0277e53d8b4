"""The literature library ships with the project as checksummed parts; the default
local source reads them when no shared/ copy or configured path overrides them."""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from nanoresearch.errors import UserError
from nanoresearch.literature import LocalLibrary, shipped

TOPICS = ["graph neural networks for molecules", "speech recognition with transformers",
          "gradient boosting on tabular data", "image segmentation with unet"]


def _split_library(folder: Path, n_parts: int = 3) -> Path:
    """A small library written as one gzip file, split in parts with a sha256 file."""
    lines = [json.dumps({"arxiv_id": f"2501.{i:05d}", "title": f"{TOPICS[i % 4].title()} study {i}",
                         "abstract": f"We study {TOPICS[i % 4]} in depth, case {i}. " * 3,
                         "authors": ["A. Author"], "categories": ["cs.LG"], "published": "2025"})
             for i in range(40)]
    data = gzip.compress("\n".join(lines).encode())
    path = folder / "lib.jsonl.gz"
    size = -(-len(data) // n_parts)
    sums = [f"{hashlib.sha256(data).hexdigest()}  {path.name}"]
    for i in range(n_parts):
        part = folder / f"{path.name}.part{i + 1}"
        part.write_bytes(data[i * size:(i + 1) * size])
        sums.append(f"{hashlib.sha256(part.read_bytes()).hexdigest()}  {part.name}")
    (folder / f"{path.name}.sha256").write_text("\n".join(sums) + "\n")
    return path


def test_parts_read_as_one_library(tmp_path):
    path = _split_library(tmp_path)
    assert not path.exists() and shipped.available(path) and len(shipped.parts(path)) == 3
    shipped.verify(path)
    lib = LocalLibrary(path, tmp_path / "cache")
    assert len(lib) == 40 and "Gradient Boosting" in lib.search("gradient boosting tabular", 1)[0].title
    again = LocalLibrary(path, tmp_path / "cache")  # same content key: no rebuild
    assert again.folder == lib.folder


def test_damaged_or_missing_part_is_a_clear_error(tmp_path):
    path = _split_library(tmp_path)
    part = shipped.parts(path)[1]
    raw = bytearray(part.read_bytes())
    raw[5] ^= 0xFF
    part.write_bytes(bytes(raw))
    with pytest.raises(UserError, match="part2 does not match its sha256"):
        LocalLibrary(path, tmp_path / "cache")
    part.unlink()
    with pytest.raises(UserError, match="do not join"):
        shipped.verify(path)


def test_the_shipped_copy_is_complete_and_under_50_mb():
    ps = shipped.parts(shipped.SHIPPED)
    assert len(ps) >= 2 and all(p.stat().st_size < 50 * 2**20 for p in ps)
    shipped.verify(shipped.SHIPPED)
    with gzip.open(shipped.open_bytes(shipped.SHIPPED), "rt", encoding="utf-8") as f:
        first = json.loads(f.readline())
    assert first["title"] and first["abstract"]


def test_default_library_falls_back_to_the_shipped_copy(monkeypatch, tmp_path):
    from nanoresearch import config

    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "clone")  # no shared/ above it
    assert config._default_library() == str(shipped.SHIPPED)
