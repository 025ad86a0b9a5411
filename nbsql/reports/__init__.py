"""Notebooks built from the database: search and gallery reports (see docs/architecture.md)."""

from .build import ReportOptions, search_report, write_report
from .gallery import GalleryCell, gallery_cells, gallery_report

__all__ = ["GalleryCell", "ReportOptions", "gallery_cells", "gallery_report", "search_report", "write_report"]
