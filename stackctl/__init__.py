"""stackctl: a declarative multi-container orchestrator with an embedded engine."""

__version__ = "0.1.0"
