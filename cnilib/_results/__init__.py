"""Results meeting JSON: ``codec`` holds the one cattrs converter that turns JSON into the
result classes of :mod:`cnilib.types` and back. It may import the errors, the strict JSON
module and the result classes; :mod:`cnilib.types` reaches it only inside functions.
"""
