"""reviewbot: AI code review for pull requests, routed by risk, priced per model."""

__version__ = "0.1.0"
