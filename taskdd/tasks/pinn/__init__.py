"""PINN task: distilled measurements for out-of-distribution boundary conditions.

Modules: ``families`` (PDE families: :class:`PDEFamily`, :func:`register_pde`, :func:`get_problem`),
``geometry`` (families on 2D space or space and time: :class:`GeometryFamily`; the shipped
``poisson2d`` and ``heat`` in ``families_nd``),
``problems`` (collocation), ``modules`` (the tanh MLPs ``(x, alpha) -> u``
of the small-network kit :mod:`taskdd.nets`, and reading one from a deepxde FNN), ``losses``,
``pool`` (the network pool of the unrolled learner), ``task`` (:class:`PINNTask`, registered as
"pinn"), ``coef`` and ``inverse`` (the inverse problem: a learned PDE coefficient,
:class:`InversePINNTask`, registered as "pinn-inverse"), ``baselines`` (reference predictors)
and ``deepxde_learner``. Networks are trained with the kit's functional Adam. deepxde is imported lazily, only when needed.
"""

from taskdd.tasks.pinn.coef import CoefFamily
from taskdd.tasks.pinn.coef_nd import CoefGeometryFamily
from taskdd.tasks.pinn.dde_import import import_deepxde
from taskdd.tasks.pinn.families import Derivatives, PDEFamily, get_problem, pde_names, register_pde
from taskdd.tasks.pinn.geometry import GeometryFamily, Partials
from taskdd.tasks.pinn.inverse import InversePINNTask
from taskdd.tasks.pinn.metrics import rel_l2, rel_l2_by_alpha, split_rel_l2
from taskdd.tasks.pinn.task import LEARNERS, PINNModel, PINNTask

__all__ = ["PINNTask", "PINNModel", "LEARNERS", "InversePINNTask", "CoefFamily", "CoefGeometryFamily", "PDEFamily", "Derivatives",
           "GeometryFamily", "Partials", "import_deepxde",
           "register_pde", "get_problem", "pde_names", "rel_l2", "split_rel_l2", "rel_l2_by_alpha"]
