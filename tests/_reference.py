"""Published reference values (papers and the R reference packages) used by the tests.

``tests/reference/published.json`` is a copy of the project's shared reference file, shipped
with the tests so that they run from a clean checkout.
"""

import json
from pathlib import Path

PUBLISHED = json.loads(
    (Path(__file__).resolve().parent / "reference" / "published.json").read_text(encoding="utf-8")
)
