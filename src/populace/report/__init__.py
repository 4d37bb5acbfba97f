"""One self-contained HTML page about a fit and its personas (``populace report``).

Modules: ``sections`` (each section: its numbers and figures), ``page`` (the page:
assembling, inline images, writing).
"""

from populace.report.page import SECTION_IDS, render_page, write_report

__all__ = ["write_report", "render_page", "SECTION_IDS"]
