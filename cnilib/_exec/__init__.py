"""The execution machinery: what runs plugins and performs the plans' steps.

``proc`` runs one plugin process (for :mod:`cnilib.invoke`), ``loopback`` brings ``lo`` up
without a plugin, ``delegate`` runs a plugin's delegate (IPAM) through an executor, ``engine``
is what the two chain drivers (:mod:`cnilib.api`, :mod:`cnilib.aio`) share, and ``networks`` is
the shared core of :class:`~cnilib.networks.Networks` and
:class:`~cnilib.aionetworks.AsyncNetworks`. It may import the plans (``cnilib._plans``), the
cache, the executors and everything below them, never a driver or a tool; ``proc`` alone
imports nothing above :mod:`cnilib.protocol`, because :mod:`cnilib.invoke` imports it.
"""
