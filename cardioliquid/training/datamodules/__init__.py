"""LightningDataModules, one module per data source, sharing :mod:`.base`.

- :mod:`.mitbih`: :class:`MITBIHBeatDataModule` (beat windows) and
  :class:`BeatSequenceDataModule` (runs of beats) over MIT-BIH, SVDB, INCART...
- :mod:`.chbmit`: :class:`SeizureDataModule` (CHB-MIT EEG, split by patient).
- :mod:`.bonn`: :class:`BonnDataModule` (Bonn EEG segments); both build on :mod:`.eeg`.
- :mod:`.locate`: where a database lives (``$CARDIOLIQUID_DATA_MIRROR``) and pulling it.
- :mod:`.synthetic`: :class:`SyntheticDataModule`; :mod:`.arrays`: :class:`ArrayDataModule`.

All take one :class:`~cardioliquid.training.datamodules.base.Sampling` and one
:class:`~cardioliquid.training.augment.Augmentation`, fetch data in
``prepare_data``, split by patient in ``setup`` (validation carved from the
training patients) and never fill an empty split from another. The signal
shape the model needs (``n_chans``, ``n_times``, ``n_features``,
``n_outputs``, ``sfreq``) and the preprocessing dict are attributes, so
``cardioliquid-train`` links them into the model. Configs name them by these
package-level paths, e.g. ``cardioliquid.training.datamodules.SeizureDataModule``.
"""

from cardioliquid.training.augment import Augmentation
from cardioliquid.training.datamodules.arrays import ArrayDataModule
from cardioliquid.training.datamodules.base import Sampling, TensorDataModule
from cardioliquid.training.datamodules.bonn import BonnDataModule
from cardioliquid.training.datamodules.chbmit import CHBMIT_BIPOLAR_18, SeizureDataModule
from cardioliquid.training.datamodules.mitbih import BeatSequenceDataModule, MITBIHBeatDataModule
from cardioliquid.training.datamodules.synthetic import SyntheticDataModule

__all__ = [
    "CHBMIT_BIPOLAR_18",
    "ArrayDataModule",
    "Augmentation",
    "BeatSequenceDataModule",
    "BonnDataModule",
    "MITBIHBeatDataModule",
    "Sampling",
    "SeizureDataModule",
    "SyntheticDataModule",
    "TensorDataModule",
]
