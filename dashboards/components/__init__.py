"""Pieces shared by the pages: formatting, figures, the page shell, a short-lived cache."""
