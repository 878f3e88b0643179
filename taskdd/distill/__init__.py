"""Distillers: the outer loop and the hypergradient estimators it uses."""

from taskdd.distill.estimators import ExactGradient, ZerothOrderGradient, get_method, method_names, register_method
from taskdd.distill.loop import LR_SCHEDULES, StepInfo, distill
from taskdd.distill.result import DistillResult
from taskdd.distill.settings import DistillSettings
from taskdd.distill.state import LoopState

__all__ = ["distill", "DistillResult", "StepInfo", "DistillSettings", "LoopState", "ExactGradient",
           "ZerothOrderGradient", "register_method", "get_method", "method_names", "LR_SCHEDULES"]
