"""One module per paper artefact: ``run(config) -> result``. Notebooks call these and nothing else."""
