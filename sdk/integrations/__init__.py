"""Integrations with AI frameworks (each imports its framework lazily)."""
