"""Classifier objectives as task plugins: KIP / kernel ridge regression ("classify-krr"), gradient
matching ("classify-gm"), distribution matching ("classify-dm") and unrolled training
("classify-unrolled"), with their data helpers, evaluation protocol and baselines."""

from taskdd.tasks.classify.base import ClassifierTask, NetworkModel
from taskdd.tasks.classify.baselines import classifier_set, full_data, kmeans_centres, random_subset
from taskdd.tasks.classify.data import as_samples, check_samples
from taskdd.tasks.classify.evaluate import EvalProtocol, evaluate_set
from taskdd.tasks.classify.kernels import rbf, relu_ntk
from taskdd.tasks.classify.krr import KRRModel, fit_krr
from taskdd.tasks.classify.networks import MLPSpec
from taskdd.tasks.classify.task import DistributionMatchingTask, GradientMatchingTask, KRRTask, UnrolledTask

__all__ = ["KRRTask", "GradientMatchingTask", "DistributionMatchingTask", "UnrolledTask", "ClassifierTask",
           "NetworkModel", "EvalProtocol", "evaluate_set", "MLPSpec", "KRRModel", "fit_krr", "relu_ntk", "rbf",
           "as_samples", "check_samples", "classifier_set", "random_subset", "kmeans_centres", "full_data"]
