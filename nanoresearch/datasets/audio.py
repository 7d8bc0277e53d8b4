"""Audio datasets: spoken-language ID from Debian's Asterisk prompt recordings, and aeon's
JapaneseVowels speaker ID (LPC cepstra). Both become fixed-length feature vectors here,
so audio experiments need nothing beyond numpy/sklearn in the sandbox."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from nanoresearch.datasets.registry import DatasetBundle, encode_labels, register
from nanoresearch.errors import UserError
from nanoresearch.types import DatasetCard

SOUNDS = Path("/usr/share/asterisk/sounds")
LANG_DIRS = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison", "fr": "fr_CA_f_June",
             "it": "it_IT_m_Carlo", "ru": "ru_RU_f_IvrvoiceRU"}
PER_LANG = 100  # clips per language; 500 clips featurize in a few seconds
MAX_SECONDS = 3.0
N_MELS, N_MFCC = 24, 13


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        sr, n, width = w.getframerate(), w.getnframes(), w.getsampwidth()
        raw = w.readframes(min(n, int(sr * MAX_SECONDS)))
    if width != 2:
        raise UserError(f"{path}: expected 16-bit PCM, got {8 * width}-bit")
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0, sr


def _mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    hz_to_mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    mel_pts = np.linspace(0, hz_to_mel(sr / 2), n_mels + 2)
    bins = np.floor((n_fft + 1) * 700.0 * (10 ** (mel_pts / 2595.0) - 1) / sr).astype(int)
    fb = np.zeros((n_mels, n_fft // 2 + 1), dtype=np.float32)
    for m in range(1, n_mels + 1):
        lo, c, hi = bins[m - 1], bins[m], max(bins[m + 1], bins[m] + 1)
        fb[m - 1, lo:c] = (np.arange(lo, c) - lo) / max(c - lo, 1)
        fb[m - 1, c:hi] = (hi - np.arange(c, hi)) / max(hi - c, 1)
    return fb


def logmel_mfcc_features(signal: np.ndarray, sr: int) -> np.ndarray:
    """Mean and std over frames of 24 log-mel energies and 13 MFCCs (74 values)."""
    from scipy.fft import dct

    frame, hop, n_fft = int(0.025 * sr), int(0.010 * sr), 256
    if len(signal) < frame:
        signal = np.pad(signal, (0, frame - len(signal)))
    n_frames = 1 + (len(signal) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = signal[idx] * np.hamming(frame)[None, :]
    power = np.abs(np.fft.rfft(frames, n=n_fft)) ** 2 / n_fft
    logmel = np.log(power @ _mel_filters(sr, n_fft, N_MELS).T + 1e-10)
    mfcc = dct(logmel, type=2, axis=1, norm="ortho")[:, :N_MFCC]
    return np.concatenate([logmel.mean(0), logmel.std(0), mfcc.mean(0), mfcc.std(0)]).astype(np.float32)


@register(DatasetCard(
    name="spoken_language_id", domain="audio", task="classification",
    source="debian:asterisk-core-sounds-{en,es,fr,it,ru}-wav",
    size=f"{5 * PER_LANG} clips x 74 log-mel/MFCC statistics", n_samples=5 * PER_LANG,
    targets="language: en, es, fr, it, ru", license="CC BY-SA 3.0 (Asterisk core sounds)",
    default_metric="accuracy",
    description=f"Real recorded telephony prompts (8 kHz). {PER_LANG} clips per language taken "
                f"deterministically (every k-th file in sorted order), first {MAX_SECONDS:g} s, "
                "summarised as log-mel + MFCC means/stds. One speaker per language, so speaker "
                "and language are confounded: say so when interpreting results."))
def _spoken_language(card: DatasetCard) -> DatasetBundle:
    feats, labels, files = [], [], []
    for lang, sub in LANG_DIRS.items():
        wavs = sorted((SOUNDS / sub).rglob("*.wav"))
        if not wavs:
            raise UserError(f"no wav files under {SOUNDS / sub}; install them with "
                            f"`apt-get install asterisk-core-sounds-{lang}-wav`")
        for p in wavs[:: max(1, len(wavs) // PER_LANG)][:PER_LANG]:
            sig, sr = _read_wav(p)
            feats.append(logmel_mfcc_features(sig, sr))
            labels.append(lang)
            files.append(str(p.relative_to(SOUNDS)))
    y, classes = encode_labels(labels)
    names = ([f"logmel{i}_mean" for i in range(N_MELS)] + [f"logmel{i}_std" for i in range(N_MELS)]
             + [f"mfcc{i}_mean" for i in range(N_MFCC)] + [f"mfcc{i}_std" for i in range(N_MFCC)])
    return DatasetBundle(card.name, card, {"X": np.stack(feats), "y": y},
                         {"task": "classification", "class_names": classes, "feature_names": names,
                          "files": files})


@register(DatasetCard(
    name="japanese_vowels", domain="audio", task="classification",
    source="aeon.datasets.load_japanese_vowels (bundled UEA)",
    size="640 utterances x 72 LPC-cepstrum statistics", n_samples=640,
    targets="9 male speakers", license="free for research use (UCI / UEA archive)",
    default_metric="accuracy",
    description="Speaker ID from 12 LPC cepstrum coefficients per frame (7-29 frames per "
                "utterance), summarised per coefficient as mean, std, first and last frame, and "
                "the mean and std of the frame-to-frame differences (delta statistics).",
    feature_blocks={"cepstrum means": [0, 12], "cepstrum standard deviations": [12, 24],
                    "first and last frames": [24, 48], "delta statistics": [48, 72]}))
def _japanese_vowels(card: DatasetCard) -> DatasetBundle:
    from aeon.datasets import load_japanese_vowels

    parts = [load_japanese_vowels(split=s) for s in ("train", "test")]
    seqs = [np.asarray(x, dtype=np.float32) for p in parts for x in p[0]]
    X = np.stack([np.concatenate([s.mean(1), s.std(1), s[:, 0], s[:, -1],
                                  np.diff(s, axis=1).mean(1), np.diff(s, axis=1).std(1)]) for s in seqs])
    y, classes = encode_labels(np.concatenate([p[1] for p in parts]))
    return DatasetBundle(card.name, card, {"X": X, "y": y},
                         {"task": "classification", "class_names": classes})
