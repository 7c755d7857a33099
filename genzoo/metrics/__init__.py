"""Sample-quality metrics in a classifier's feature space (classifier FID, KID, precision/recall, Inception
Score, class histogram), their calibration, and the command that scores a checkpoint or a sample file."""
from genzoo.metrics.features import classifier_outputs, load_classifier
from genzoo.metrics.quality import SAMPLE_QUALITY_TABLE, SampleQuality, sample_quality_row
from genzoo.metrics.sample_metrics import (frechet_distance, inception_score, kernel_distance, precision_recall,
                                           score_features)

__all__ = ["SAMPLE_QUALITY_TABLE", "SampleQuality", "classifier_outputs", "frechet_distance", "inception_score",
           "kernel_distance", "load_classifier", "precision_recall", "sample_quality_row", "score_features"]
