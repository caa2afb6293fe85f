"""A tqdm progress bar on stderr, or None: the one rule fit's bar and convert's bar follow.

``progress`` None shows the bar when stderr is a terminal; True insists on one (and says how to
install tqdm when it is missing); False never shows one.
"""

from __future__ import annotations

import sys


def tqdm_bar(progress, **tqdm_kwargs):
    """A ``tqdm`` bar writing to stderr, or None when ``progress`` says no bar is shown."""
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        progress = bool(isatty and isatty())
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        if progress is True:
            raise ImportError("progress=True needs tqdm: pip install 'mlp[progress]'") from None
        return None
    return tqdm(file=sys.stderr, dynamic_ncols=True, **tqdm_kwargs)
