"""The machinery behind :mod:`cnilib.config`, one module per job.

* :mod:`cnilib._config.rules`: libcni's structural rules for plugin objects and lists, and the
  located :class:`~cnilib.errors.ConfigValidationError` that reports them.
* :mod:`cnilib._config.files`: reading one file (regular, never blocking, capped), listing a
  directory in libcni's sort order, and finding a network by name in a folder.

The values (:class:`~cnilib.config.PluginConfig`, :class:`~cnilib.config.NetworkConfigList`),
their construction and every public loader stay in :mod:`cnilib.config`.
"""
