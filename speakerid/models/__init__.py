"""The networks and the models built on them: log-mel windows in, one speaker embedding out.

:mod:`.base` is what every model folder loads as (:class:`~.base.SpeakerModel`); :mod:`.encoder`
(one network) and :mod:`.fusion` (several, scores fused) implement it; :mod:`.loader` loads any
folder and installs or activates a trained model. The training objectives (:mod:`.objectives`) sit
beside the networks, not inside them.
"""
