"""incprof: the Inception family taken apart, row by row, with exact counts.

``incprof.profile("googlenet")`` returns a pandas DataFrame (imported lazily, so importing incprof
stays cheap).
"""

__version__ = "0.1.0"


def profile(*args, **kwargs):
    """See :func:`incprof.analysis.profile.profile`."""
    from .analysis.profile import profile as _profile

    return _profile(*args, **kwargs)
