"""Kernel ridge regression against scikit-learn's KernelRidge with a precomputed kernel."""

import numpy as np
import pytest
import torch
from sklearn.kernel_ridge import KernelRidge

from taskdd.tasks.classify.kernels import get_kernel
from taskdd.tasks.classify.krr import fit_krr


@pytest.mark.parametrize("kernel", ["ntk", "rbf"])
def test_krr_predictions_match_sklearn_kernel_ridge_with_a_precomputed_kernel(kernel):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 5, generator=g, dtype=torch.float64)
    targets = torch.randn(12, 3, generator=g, dtype=torch.float64)
    xq = torch.rand(7, 5, generator=g, dtype=torch.float64)
    k = get_kernel(kernel, gamma=0.5)
    ridge = 1e-3
    ours = fit_krr(x, targets, k, ridge).predict(xq)
    K = k(x, x).numpy()
    ref = KernelRidge(alpha=ridge * K.diagonal().mean(), kernel="precomputed").fit(K, targets.numpy())
    np.testing.assert_allclose(ours.numpy(), ref.predict(k(xq, x).numpy()), rtol=1e-7, atol=1e-9)


def test_krr_interpolates_its_support_with_a_tiny_ridge():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(6, 3, generator=g, dtype=torch.float64)
    targets = torch.eye(6, dtype=torch.float64)
    model = fit_krr(x, targets, get_kernel("ntk"), 1e-10)
    torch.testing.assert_close(model.predict(x), targets, atol=1e-6, rtol=0)


@pytest.mark.slow  # torch.compile takes seconds
def test_compiled_kip_objective_equals_the_eager_one():
    from taskdd import Samples, make_generator
    from taskdd.tasks.classify import KRRTask

    g = torch.Generator().manual_seed(3)
    data = Samples(x=torch.rand(30, 6, generator=g), y=torch.arange(3).repeat(10))
    eager, compiled = KRRTask(real_batch=12), KRRTask(real_batch=12, compile=True)
    syn = eager.init_synthetic(data, 2, make_generator(0))
    values, grads = [], []
    for task in (eager, compiled):
        obj = task.objective(syn, data, generator=make_generator(1))
        values.append(obj.detach())
        grads.append(torch.autograd.grad(obj, syn.parameters()))
    torch.testing.assert_close(values[1], values[0], rtol=1e-4, atol=1e-6)
    for a, b in zip(grads[1], grads[0]):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)
