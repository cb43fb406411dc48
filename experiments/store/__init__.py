"""Storing results: files and directories written whole or not at all."""
