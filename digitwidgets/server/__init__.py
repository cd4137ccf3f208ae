"""Code that runs in the Voila or Jupyter server process, never in a kernel.

Named from ``voila.json`` (standalone Voila) and ``binder/jupyter-config`` (the Voila server
extension under Binder and JupyterHub); nothing in the rest of the package imports it.
"""
