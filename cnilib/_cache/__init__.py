"""The result cache's machinery under :mod:`cnilib.cache`: ``entry`` is the file format
(libcni's JSON, pure bytes in and out), ``fs`` the folders and files opened without following
links, ``locks`` the attachment, container and GC locks over them. It may import only the
errors and the strict JSON module (and its siblings): the public cache and the runtime layer
build on it.
"""
