"""The one base of every error nbasim raises on purpose.

Every named error (a bad parameter, config, data file, policy or results directory) derives
from `NbasimError`, so a notebook or a script can catch them all with one `except`. It
derives from `ValueError` because each of them reports a value that is not allowed.
"""


class NbasimError(ValueError):
    """A value nbasim cannot accept: the message names what is wrong and what is allowed."""
