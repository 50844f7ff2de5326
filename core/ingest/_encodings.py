"""Text encodings of analysts' files: detect (charset-normalizer), judge, preview, transcode.

The rule is *no silent mojibake*. A byte-order mark or valid UTF-8 is certain. Otherwise the
Windows Western code page (cp1252, what Excel writes on Windows) is taken when its decoding reads
like text; else charset-normalizer's candidates are decoded, implausible ones dropped, and when
more than one distinct reading is left the guess is marked uncertain so the caller can show the
previews and ask.
"""

from __future__ import annotations

import codecs
import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.errors import IngestError

# Punctuation that sits next to letters in real text ("O’Brien", "“email”", "25°C").
_ALLOWED_NEXT_TO_LETTERS = set("“”‘’„‚«»‹›–—…•·°´¨ºª¿¡§")
# Encodings analysts actually meet, most common first; used to order equally good candidates.
_PRIOR = ["cp1252", "gb18030", "cp1250", "cp1251", "latin_1", "iso8859_15", "big5", "cp932",
          "shift_jis", "euc_kr", "cp949", "cp1253", "cp1254", "cp1257", "koi8_r", "mac_roman"]
_UNSURE_CHAOS_GAP = 0.1
_ALWAYS_TRY = ("cp1250", "cp1251", "koi8_r", "gb18030", "big5")


@dataclass(frozen=True)
class EncodingGuess:
    """The encoding chosen for a file and how sure LiftLab is.

    Attributes:
        encoding: Python codec name to decode the file with (e.g. ``utf-8``, ``cp1252``).
        certain: False when several encodings read the file differently and plausibly; the
            caller must then show :func:`preview_text` of each candidate and ask.
        candidates: Plausible encodings, best first (the chosen one first).
        note: One sentence for the ingest report on how the encoding was chosen.
    """

    encoding: str
    certain: bool
    candidates: tuple[str, ...]
    note: str


def codec_name(encoding: str) -> str:
    """Normalise an encoding name (``'UTF8'``, ``'Latin-1'``, ``'gbk'``) to a Python codec name.

    GBK and GB2312 are mapped to GB18030, their superset.

    Raises:
        IngestError: The name is not an encoding Python knows.
    """
    try:
        name = codecs.lookup(encoding.strip()).name
    except LookupError as err:
        raise IngestError(
            f"'{encoding}' is not a known text encoding. Use a name such as utf-8, cp1252, "
            f"latin-1, gb18030 or utf-16."
        ) from err
    name = {"iso8859-1": "latin-1", "gbk": "gb18030", "gb2312": "gb18030"}.get(name, name)
    return name


def _decode(sample: bytes, encoding: str) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample, final=False)
    except (UnicodeDecodeError, LookupError):
        return None


def _script(ch: str) -> str:
    """Script family of a letter: LATIN, CYRILLIC, GREEK, CJK (incl. kana), HANGUL, ..."""
    first = unicodedata.name(ch, "UNKNOWN").split(" ")[0]
    return "CJK" if first in ("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH") else first


def _suspicious_words(text: str) -> int:
    count = 0
    for word in re.findall(r"[^\W\d_]+", text):
        if word.isascii():
            continue
        if len({_script(ch) for ch in word}) > 1:
            count += 1
        elif any(b.isupper() and a.islower() and not (a + b).isascii()
                 for a, b in zip(word, word[1:])):
            count += 1
    return count


def _glued_symbols(text: str) -> int:
    return sum(
        1 for ch, nxt in zip(text, text[1:])
        if ord(ch) > 127 and not ch.isalnum() and ch not in _ALLOWED_NEXT_TO_LETTERS
        and nxt.isalpha()
    )


def plausible_text(text: str) -> bool:
    """Whether decoded text reads like real text rather than mojibake.

    Rejects control characters; Latin text whose letters are mostly accented (a Cyrillic or
    Chinese file read as cp1252); words mixing scripts (``imiк``) or with upper-case letters
    inside lower-case ones (``хБЮМ``); and symbols glued to the letter after them (``£ukasz``,
    ``Stanis³aw``).

    Args:
        text: Text decoded from a file's first bytes.

    Returns:
        True when (almost) nothing suspicious was found.
    """
    non_ascii = [ch for ch in text if ord(ch) > 127]
    if not non_ascii:
        return True
    if any(unicodedata.category(ch) in ("Cc", "Co", "Cn", "Cs") for ch in non_ascii):
        return False
    latin = [ch for ch in text if ch.isalpha() and _script(ch) == "LATIN"]
    if latin and sum(ord(ch) > 127 for ch in latin) / len(latin) > 0.4:
        return False
    suspicious = _suspicious_words(text) + _glued_symbols(text)
    return suspicious <= len(non_ascii) // 50


def _bom_or_utf(sample: bytes) -> EncodingGuess | None:
    if sample.startswith(codecs.BOM_UTF8):
        return EncodingGuess("utf-8-sig", True, ("utf-8-sig",), "UTF-8 with a byte-order mark.")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return EncodingGuess("utf-16", True, ("utf-16",), "UTF-16 (byte-order mark).")
    even, odd = sample[0:4096:2], sample[1:4096:2]
    if len(sample) >= 8 and odd.count(0) > 0.3 * len(odd) and not even.count(0):
        return EncodingGuess("utf-16-le", True, ("utf-16-le",), "UTF-16 little-endian, no BOM.")
    if len(sample) >= 8 and even.count(0) > 0.3 * len(even) and not odd.count(0):
        return EncodingGuess("utf-16-be", True, ("utf-16-be",), "UTF-16 big-endian, no BOM.")
    if _decode(sample, "utf-8") is not None:
        return EncodingGuess("utf-8", True, ("utf-8",), "UTF-8.")
    return None


def _normalised_candidates(sample: bytes) -> list[tuple[str, float]]:
    """charset-normalizer's candidates plus a few common code pages, as ``(codec, chaos)``."""
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    out: dict[str, float] = {}
    for match in from_bytes(sample):
        out.setdefault(codec_name(match.encoding).replace("-", "_"), float(match.chaos))
    for name in _ALWAYS_TRY:
        text = _decode(sample, name)
        if name not in out and text is not None:
            out[name] = float(mess_ratio(text))
    return sorted(out.items(), key=lambda kv: kv[1])


def _rank(name: str) -> int:
    return _PRIOR.index(name) if name in _PRIOR else len(_PRIOR)


def guess_encoding(sample: bytes) -> EncodingGuess:
    """Choose the encoding of a file from its first bytes (up to about 1 MiB).

    Args:
        sample: The file's first bytes.

    Returns:
        The :class:`EncodingGuess`; ``certain`` is False when the caller must ask.

    Raises:
        IngestError: The bytes contain NULs (not text) or decode plausibly in no encoding.
    """
    sure = _bom_or_utf(sample)
    if sure is not None:
        return sure
    if b"\x00" in sample[:4096]:
        raise IngestError(
            "This file is not text (it contains binary bytes), so it is not a CSV. Export it as "
            "CSV, Excel (.xlsx), Parquet or JSON."
        )
    western = _decode(sample, "cp1252")
    if western is not None and plausible_text(western):
        same_as_latin1 = not any(0x80 <= b <= 0x9F for b in sample)
        note = ("Windows Western (cp1252" + (", identical to latin-1 for this file" if
                same_as_latin1 else "") + "), as Excel saves CSV files on Windows; the file is "
                "not UTF-8 and every character reads correctly as cp1252.")
        return EncodingGuess("cp1252", True, ("cp1252",), note)
    return _from_detector(sample)


def _from_detector(sample: bytes) -> EncodingGuess:
    readings: dict[str, tuple[str, float]] = {}
    for name, chaos in _normalised_candidates(sample):
        text = _decode(sample, name)
        if text is None or not plausible_text(text):
            continue
        if any(text == seen for seen, _ in readings.values()):
            continue
        readings[name] = (text, chaos)
    if not readings:
        raise IngestError(
            "The text encoding of this file could not be recognised: no common encoding reads it "
            "as text. Save it as UTF-8 CSV, or name the encoding (--encoding cp1252, gb18030, "
            "latin-1, ...)."
        )
    best_chaos = min(chaos for _, chaos in readings.values())
    close = [n for n, (_, c) in readings.items() if c - best_chaos < _UNSURE_CHAOS_GAP]
    ordered = sorted(close, key=lambda n: (readings[n][1] > best_chaos, _rank(n)))
    few_bytes = sum(b > 127 for b in sample) < 8
    certain = len(ordered) == 1 and not (few_bytes and len(readings) > 1)
    chosen = ordered[0]
    note = (f"Detected as {chosen} by charset-normalizer." if certain else
            f"Uncertain: {', '.join(ordered)} all read this file differently.")
    return EncodingGuess(chosen, certain, tuple(ordered if len(ordered) > 1 else readings), note)


def preview_text(sample: bytes, encoding: str, lines: int = 4, width: int = 100) -> str:
    """The first lines of ``sample`` that contain non-ASCII text, decoded with ``encoding``.

    Lets the analyst see which candidate encoding reads correctly.

    Args:
        sample: The file's first bytes.
        encoding: Codec to decode with (undecodable bytes show as U+FFFD).
        lines: At most this many lines.
        width: Each line cut to this many characters.

    Returns:
        The lines joined by newlines (the first lines when all are ASCII).
    """
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    rows = [r for r in text.splitlines() if r.strip()]
    special = [r for r in rows if re.search(r"[^\x00-\x7f]", r)] or rows
    return "\n".join(r[:width] for r in special[:lines])


def transcode_to_utf8(path: Path, encoding: str, workdir: Path) -> Path:
    """Copy a text file to UTF-8 in 1 MiB chunks (bounded memory).

    Args:
        path: Source file.
        encoding: Its encoding (Python codec name).
        workdir: Folder for the UTF-8 copy.

    Returns:
        Path of the UTF-8 copy.

    Raises:
        IngestError: A byte sequence is not valid in ``encoding``.
    """
    target = workdir / f"{uuid.uuid4().hex}.csv"
    try:
        with open(path, encoding=encoding, errors="strict", newline="") as src, open(
            target, "w", encoding="utf-8", newline=""
        ) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (UnicodeDecodeError, LookupError) as err:
        target.unlink(missing_ok=True)
        raise IngestError(
            f"The file could not be decoded as {encoding}: {err}. Choose the encoding the file "
            f"was saved in (--encoding)."
        ) from err
    return target
