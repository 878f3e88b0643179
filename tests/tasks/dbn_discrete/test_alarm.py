"""The vendored ALARM network read offline: size, free parameters, state names, pgmpy's tables."""

import torch

from data_gen.alarm import ALARM_BIF, _alarm_pgmpy, alarm_network


def test_alarm_has_37_variables_and_509_free_parameters():
    dbn = alarm_network()
    assert ALARM_BIF.is_file() and dbn.d == 37 and dbn.cpt is None
    free = sum((t.shape[-1] - 1) * t[..., 0].numel() for t in dbn.cpt0)
    assert free == 509
    assert dbn.cpt0[0].dtype == torch.float64


def test_alarm_keeps_state_names_and_tables_of_the_bif_file():
    dbn, bn = alarm_network(), _alarm_pgmpy()
    s = dbn.structure
    assert dbn.state_names["HR"] == ["LOW", "NORMAL", "HIGH"]
    for v in s.variables:
        cpd = bn.get_cpds(v)
        assert sorted(s.intra[v]) == sorted(bn.get_parents(v))
        assert cpd.state_names[v] == dbn.state_names[v]
        ours = dbn.cpt0[s.index(v)].movedim(-1, 0).reshape(cpd.cardinality[0], -1)
        assert torch.equal(ours, torch.from_numpy(cpd.get_values()))
