"""The ipywidgets components: thin views that present the core and wire user events to it."""
