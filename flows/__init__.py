"""Entry points: the phasegate CLI and the Prefect flows. Importing this package never imports Prefect."""
