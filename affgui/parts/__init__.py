"""The window's parts: each is built from ``(session, shell)`` alone and never imports another.

``browser`` (filter bar, grid, viewer; compare mode and prediction info inside it),
``panels`` (patient and label-history docks), ``project_flows`` (File menu flows),
``results`` (the Results dock), ``heatmaps`` (the heatmap comparison window), ``reads``
(reader studies), ``keymap`` (Settings), ``status`` (status-bar extras) and
``experiments`` (the Experiments dock, menu and workers). :data:`affgui.main_window.PARTS`
lists them in the order the shell builds them; docs/interfaces.md says how to add one.
"""
