"""maskft: knowledge-injection ablations for language models (arXiv 2510.09885 and beyond)."""

__version__ = "0.1.0"
