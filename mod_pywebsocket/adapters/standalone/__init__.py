"""The standalone server: ``cli`` (flags, logging, signals), ``server``, ``http_head``, ``workers``."""
