"""Layer arithmetic with `torch.nn` names, arguments and defaults, over sympy.

Cards state parameter counts, output sizes and FLOPs that learners memorise; these are computed
from PyTorch's documented formulas (checked against torch 2.13 in the tests), so
`params(Conv2d(C, N, K, groups=G, bias=False))` is the symbolic `C*N*K**2/G` and
`output_shape(Conv2d(3, 64, 3, stride=2, padding=1), (1, 3, 224, 224))` is `(1, 64, 112, 112)`.
Configurations PyTorch refuses are refused here too, with its reason. torch itself is not a
dependency. One module per family; each exports a `FUNCTIONS` dict, merged here into
`LAYER_FUNCTIONS` for the library.
"""

from __future__ import annotations

from dldeck.verify.layers import attention, base, conv, linear, norm, pool, queries, recurrent, shape
from dldeck.verify.values import Builtin

LAYER_FUNCTIONS: dict[str, Builtin] = {
    **conv.FUNCTIONS,
    **pool.FUNCTIONS,
    **linear.FUNCTIONS,
    **norm.FUNCTIONS,
    **recurrent.FUNCTIONS,
    **shape.FUNCTIONS,
    **attention.FUNCTIONS,
    "Sequential": base.sequential,
    **queries.FUNCTIONS,
}
