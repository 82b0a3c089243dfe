"""Training and evaluating a model on data sets: the run driver (:mod:`.train`), its settings and
progress files, the trainer, cached preparation, augmentation, metrics and background runs."""
