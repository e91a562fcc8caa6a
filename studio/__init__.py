"""HotMesh Studio: design, deploy and watch workflows in the browser (``panel serve studio``).

The server entry is ``main.py`` (Bokeh's directory-app convention); ``app_hooks.py`` starts the
shared runtime when the server starts. The pieces the notebook widgets reuse do not depend on the
server runtime:

- ``model`` and ``layout``: a compiled graph as nodes and edges, laid out by Graphviz ``dot`` or
  by networkx (pure functions);
- ``graph.GraphView``: the Bokeh DAG with type/status/diff colours, badges and tap-to-select;
- ``diff`` and ``review``: what one version changes against another, and when it may be activated
  (pure); ``review_panel.ReviewPanel`` shows it with the one Activate button;
- ``status.JobState``: activity statuses from an export snapshot plus live events;
- ``job.JobView``: a live job (graph, Gantt, inspector) fed by ``events.EventHub``;
- ``runs.RunsTable`` and ``editor.EditorView``.
"""
