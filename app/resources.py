"""Where the app's templates and static files are, in a source checkout and when installed.

Layer: infrastructure. The repository keeps `templates/` at the top level; a wheel ships it as
data files under `<prefix>/share/kizuna/templates` (pyproject's `data-files`). A checkout (or an
editable install) uses the top-level folder; an installed copy uses the shipped one.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
# Flask-Babel catalogues: package data, shipped inside the wheel with their compiled `.mo`.
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def _templates_folder() -> Path:
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if checkout.is_dir():
        return checkout
    prefixes = (sysconfig.get_path("data"), sys.prefix, sys.base_prefix)
    for prefix in prefixes:
        shipped = Path(prefix) / "share" / "kizuna" / "templates"
        if shipped.is_dir():
            return shipped
    return checkout  # nothing shipped: Jinja names the missing template


TEMPLATES = _templates_folder()
