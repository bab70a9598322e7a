"""moru: tokenizer."""
