"""Accuracy: dataset layouts (ADE20K, ADE20K-32, Cityscapes, Pascal VOC), the confusion-matrix mIoU,
and the loop behind ``segbench eval`` (docs/eval.md).

- ``labelmap``: raw label values -> evaluated class ids (or ignored), and ADE20K-32 mapping files
- ``datasets``: which (image, label) pairs a dataset directory holds; one label file as class ids
- ``predict``: a model output -> class ids at the label's size (bilinear scores + argmax, or nearest)
- ``metric``: the confusion matrix and mIoU / per-class IoU / pixel and mean accuracy
- ``evaluate``: the per-image loop
"""
