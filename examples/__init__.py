"""Examples for svdgrad users: plug-in backends under examples.backends."""
