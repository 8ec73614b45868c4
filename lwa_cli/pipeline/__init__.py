"""Workspace-aware steps of the pipeline: each reads its inputs from the workspace, calls the
pure cores (data, models, features, analysis) and writes its outputs back atomically."""
