"""Gymnasium environments over the world (see the issue on actions and environments)."""
