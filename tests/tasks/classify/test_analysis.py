"""Early-training agreement between networks trained on a set and on real data."""

import pytest

from data_gen.digits import load_digits_split
from taskdd import ConfigError, make_generator
from taskdd.tasks.classify.analysis import early_training_agreement
from taskdd.tasks.classify import EvalProtocol, full_data, random_subset

LIGHT = EvalProtocol(mlp_width=64, n_models=2, steps=150, lr=3e-3)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


def test_agreement_has_one_row_per_epoch_and_grows_with_a_set_like_the_data(digits):
    df = early_training_agreement(full_data(digits.train), digits.train, digits.test, epochs=4, protocol=LIGHT,
                                  generator=make_generator(0))
    assert df.epoch.tolist() == [1, 2, 3, 4]
    assert df.agreement.between(0, 1).all() and df.real_acc.between(0, 1).all()
    assert df.synthetic_acc.nunique() == 1
    assert df.agreement.iloc[-1] > df.agreement.iloc[0] and df.agreement.iloc[-1] > 0.75


def test_agreement_is_seeded(digits):
    s = random_subset(digits.train, 2, make_generator(1))
    a, b = (early_training_agreement(s, digits.train, digits.test, epochs=2, protocol=LIGHT,
                                     generator=make_generator(5)) for _ in range(2))
    assert a.equals(b)


def test_bad_settings_raise_config_errors(digits):
    s = random_subset(digits.train, 1, make_generator(0))
    with pytest.raises(ConfigError, match="epochs must be an int >= 1, got 0"):
        early_training_agreement(s, digits.train, digits.test, epochs=0, generator=make_generator(0))
