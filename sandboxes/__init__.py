"""Isolated code execution for code rewards. Standard library only (the docker SDK is imported
only inside the docker backend)."""
