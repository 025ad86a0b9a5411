"""Notebooks built from the database: search and gallery reports (see docs/architecture.md)."""

from .build import ReportOptions, check_report_path, search_report, write_report
from .gallery import GalleryCell, gallery_cells, gallery_report

__all__ = ["GalleryCell", "ReportOptions", "check_report_path", "gallery_cells", "gallery_report", "search_report",
           "write_report"]
