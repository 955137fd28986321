"""How a model's outputs become calls, events and alerts: one rule for every front-end.

``cardioliquid score``, ``cardioliquid evaluate``, the live stream and the app
all decide through this package, with the settings the model file carries:

- :mod:`~cardioliquid.decision.settings`: :class:`DecisionSettings` (threshold,
  smoothing, minimum duration, AF gate, alert rules), one set of defaults;
- :mod:`~cardioliquid.decision.events`: window probabilities -> seizure events;
- :mod:`~cardioliquid.decision.beats`: beat probabilities -> settled calls
  (AF gate, unusable beats unclassifiable);
- :mod:`~cardioliquid.decision.alerts`: the alerts a clinician acts on
  (ventricular runs, seizure onsets), built on the same events.

Nothing here runs a model: it reads probabilities and beat times.
"""

from __future__ import annotations

from cardioliquid.decision.settings import DecisionSettings

__all__ = ["DecisionSettings"]
