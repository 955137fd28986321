"""Training: the LightningModule, DataModules, ``cardioliquid-train``, export, adaptation.

- :class:`~cardioliquid.training.module.LiquidClassifierModule`: any registered
  classifier, class weights, torchmetrics metrics, safe checkpoints.
- :mod:`~cardioliquid.training.datamodules`: one module per data source: MIT-BIH
  and other WFDB beats (de Chazal split; single beats or runs of beats), CHB-MIT
  windows (leave-patients-out), Bonn segments, arrays, synthetic data; one
  ``Sampling`` and one ``Augmentation`` setting for all.
- :mod:`~cardioliquid.training.cli`: ``cardioliquid-train`` (LightningCLI).
- :func:`~cardioliquid.training.export.export_checkpoint`: ``.ckpt`` -> shipped
  ``.safetensors`` with preprocessing and provenance.
- :func:`~cardioliquid.training.adapt.adapt_to_patient`: EC57 patient-adaptive
  fine-tuning on the first minutes of a record.

Submodules are imported on use (Lightning is heavy to import).
"""
