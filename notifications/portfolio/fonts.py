"""The font with Chinese glyphs that PDF reports embed and charts draw with.

Why fontconfig and a setting, never a path in the code: fonts live in different places on every machine. The
``PHASEGATE_REPORT_FONT`` setting wins; else fontconfig lists the fonts that cover Simplified Chinese and the
first (WenQuanYi Micro Hei preferred, as Debian's ``fonts-wqy-microhei`` installs it) is used.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from phasegate.gates.vocabulary.errors import ReportFontError

PREFERRED = ("wqy-microhei", "wqy-zenhei", "notosanscjk", "notosanssc", "droidsansfallback")
INSTALL_HINT = (
    "install a font with Chinese glyphs (Debian: apt-get install fonts-wqy-microhei) or set PHASEGATE_REPORT_FONT "
    "to a .ttf/.ttc/.otf file"
)


def _fontconfig_candidates() -> list[Path]:
    if shutil.which("fc-list") is None:
        return []
    done = subprocess.run(["fc-list", ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=30, check=False)
    files = {Path(line.split(":", 1)[0].strip()) for line in done.stdout.splitlines() if line.strip()}
    usable = [f for f in files if f.suffix.lower() in (".ttf", ".ttc", ".otf") and f.is_file()]

    def rank(path: Path) -> tuple[int, str]:
        name = path.name.lower().replace("-", "").replace("_", "")
        hits = [i for i, p in enumerate(PREFERRED) if p.replace("-", "") in name]
        return (hits[0] if hits else len(PREFERRED), str(path))

    return sorted(usable, key=rank)


def cjk_font(configured: Path | None = None) -> Path:
    """The font file to use, or ``ReportFontError`` saying how to get one."""
    if configured is not None:
        if not configured.is_file():
            raise ReportFontError(f"PHASEGATE_REPORT_FONT: {configured} is not a file; {INSTALL_HINT}")
        return configured
    found = _fontconfig_candidates()
    if not found:
        raise ReportFontError(f"no font with Chinese glyphs was found by fontconfig; {INSTALL_HINT}")
    return found[0]
