"""moru: eval."""
