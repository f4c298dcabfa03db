"""The Apache adapter: ``handler`` (mod_python's entry point, connection I/O, options)."""
