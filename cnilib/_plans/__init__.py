"""The plans: pure generators that decide every operation and yield steps for a driver to perform.

``steps`` holds the steps a plan yields, ``replies`` what a plugin's reply means, ``chains`` the
attachment plans (ADD, CHECK, DEL and the cached-result getters), ``netops`` the network plans
(GC, STATUS, VERSION, validation) and ``sandbox`` the runtime layer's plans over a sandbox's
networks. Everything here is pure (docs/design.md, "Sans-IO core, thin edges"): it may import
the modules below it (errors, identifiers, version, protocol, config, pod, types) and its
siblings, never the executor, the cache or a driver.
"""
