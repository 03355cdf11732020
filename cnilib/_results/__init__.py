"""Results meeting JSON: the one cattrs converter that turns JSON into the result classes of
:mod:`cnilib.types` and back.

``codec`` holds the converter, its strict leaf parsers, the hooks of the parts of results and
the locating of errors; ``decode`` the one way in (:func:`~cnilib._results.decode.parse_result`,
the one ``cniVersion`` fix-up rule, the result classes' hooks); ``encode`` the way out
(:func:`~cnilib._results.encode.result_to_dict`). Importing any of them configures the whole
converter: this package imports the modules that register hooks. The package may import the
errors, the strict JSON module and the result classes; :mod:`cnilib.types` reaches it only
inside functions.
"""

from . import decode as decode
from . import encode as encode
