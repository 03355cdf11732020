"""The schema subsystem's private machinery (:mod:`cnilib.schema` is its public face).

* ``graph``: cnilib's JSON Schemas as numbered subschemas, ``$ref`` resolved;
* ``conditions``: each assertion keyword as a Python condition;
* ``compiler``: the compiler, which generates a validator and a failure collector per schema;
* ``problems``: raw failures worded, lazily, as located :class:`~cnilib.errors.Problem` values;
* ``locate``: JSON pointers to lines and columns in a document's text;
* ``plugin``: each reference plugin's own keys, checked by jsonschema.

``docs/schema-compiler.md`` says what the compiler generates and how to debug it. This
package imports nothing: each module is imported on its own, when needed.
"""
