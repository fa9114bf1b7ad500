"""tunelab's Ray launcher: `hydra/launcher=ray` runs a sweep's trials as Ray tasks.

Written because hydra-ray-launcher (1.2.2, its newest release) pins cloudpickle<3, which the
joblib this project installs (joblib >= 1.5 needs cloudpickle >= 3) cannot live with. Hydra
imports every module here whose name does not start with "_" when it scans for plugins; those
do not import Ray, which `_core` imports when a sweep starts.
"""
