"""moru: moru."""
