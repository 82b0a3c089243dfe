"""The networks and the encoder: log-mel windows in, one speaker embedding out (:mod:`.encoder`);
the training objectives (:mod:`.objectives`) sit beside the networks, not inside them."""
