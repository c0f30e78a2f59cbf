"""The heatmap methods' names (no torch: the GUI offers and queues them)."""

CAM_METHODS = ("gradcam", "gradcam++", "hirescam", "eigencam")
ROLLOUT = "rollout"
