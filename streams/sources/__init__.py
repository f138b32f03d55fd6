"""File readers for replay: files in, raw records out, resumable by position."""
