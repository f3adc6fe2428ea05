"""Renderings of the portfolio report (``gates.portfolio``): charts, HTML, XLSX and PDF, in English and Chinese.

Every format renders the same model, so a number read back from the XLSX is the one printed in the PDF.
matplotlib, openpyxl and fpdf2 are imported by the module that needs them, only when a report is made.
"""

from __future__ import annotations

FORMATS = ("pdf", "html", "xlsx")
LANGS = ("en", "zh-CN")
