"""The small binding-stage suite that tests run on planted token grids (one readout, velocity only)."""

BINDING_SUITE = """[suite]
name = "binding-test"
readouts = ["linear"]
targets = ["velocity"]
controls = []
folds = 4
n_boot = 20
stages = ["binding"]
[stages.binding]
n_boot = 100
targets = ["velocity"]
"""
