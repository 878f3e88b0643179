"""Your own classification table: scikit-learn's bundled wine, raw and standardised.

classify-krr at 1 image (row) per class, 1000 outer steps, seed 0; judged on a held-out 30%.
Run: python docs/examples/wine_standardise.py
"""
import warnings

from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

import taskdd
from taskdd import Samples
from taskdd.tasks.classify import KRRTask

df = load_wine(as_frame=True).frame                       # 178 rows, 13 features, column "target"
train_df, test_df = train_test_split(df, test_size=0.3, stratify=df.target, random_state=0)
for standardize in (False, True):
    with warnings.catch_warnings(record=True) as caught:  # the raw table warns: features far from standardised
        warnings.simplefilter("always")
        train = Samples.from_dataframe(train_df, label="target", standardize=standardize)
        test = Samples.from_dataframe(test_df, label="target", like=train)  # the training table's scaling
    res = taskdd.distill(KRRTask(), train, budget=1, steps=1000, lr=0.01, seed=0, device="cpu", quiet=True)
    metrics = KRRTask().evaluate(res.synthetic, test, generator=taskdd.make_generator(0))
    print(f"standardize={standardize} warned={bool(caught)}", {k: round(v, 3) for k, v in metrics.items()})
