"""Task plugins. Each is one module or folder that registers itself with ``register_task``;
the registry imports it on first use (see ``taskdd.registry``)."""
