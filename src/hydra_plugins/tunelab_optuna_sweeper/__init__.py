"""tunelab's Optuna sweeper: `hydra/sweeper=optuna`, on hydra-core 1.3 and Optuna >= 4.

Hydra imports every module of this package whose name does not start with "_" when it scans
for plugins, even for `--help`; those modules import neither optuna nor mlflow. The work is
done in the underscore modules, imported when a sweep starts.
"""
