"""Image classifiers: the feature networks of the sample metrics (genzoo.metrics), trained like any model."""
from genzoo.models.classifier.cnn import CNNClassifier, CNNClassifierConfig

__all__ = ["CNNClassifier", "CNNClassifierConfig"]
