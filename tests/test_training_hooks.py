"""The training package's seams: user hooks (Schedule.on_epoch_end, Callback.on_epoch_begin,
Callback.on_batch_end), the step factory, the batch source, the options table, the loop's size."""

import ast
import inspect
import textwrap

import numpy as np
import pytest

import mlp
from mlp.callbacks import Callback
from mlp.schedules import Schedule
from mlp.training import hooks, loop, steps
from mlp.training.data import Batches, validation_rows
from mlp.training.options import OPTIONS, FitOptions, loss_for

pytestmark = pytest.mark.filterwarnings("ignore:loss still falling")

X = np.random.default_rng(0).normal(size=(40, 3))
Y = (X[:, 0] > 0).astype(int)


def _net(seed=0):
    return mlp.Network.from_sizes([3, 4, 2], hidden="tanh", output="softmax", seed=seed)


# -- user hooks: each of these failed on the old fit (0 calls) --------------------------------

class Halving(Schedule):
    """A user schedule that halves η after every epoch whose loss did not fall."""

    def __init__(self):
        self.seen, self.scale, self.best = [], 1.0, np.inf

    def __call__(self, epoch, lr0):
        return lr0 * self.scale

    def on_epoch_end(self, value):
        self.seen.append(value)
        if value >= self.best:
            self.scale /= 2
        self.best = min(self.best, value)


def test_user_schedule_on_epoch_end_is_called_every_epoch_with_the_monitored_loss():
    sched = Halving()
    history = _net().fit(X, Y, epochs=5, batch_size=10, schedule=sched, lr=0.01)
    assert sched.seen == history.loss                      # training loss without validation data
    sched2 = Halving()
    h2 = _net().fit(X, Y, epochs=4, schedule=sched2, validation_split=0.25)
    assert sched2.seen == h2.val_loss                       # the validation loss when there is one


def test_user_schedule_on_epoch_end_changes_the_learning_rate():
    sched = Halving()
    sched.best = -np.inf                                    # every epoch counts as "not better"
    history = _net().fit(X, Y, epochs=4, schedule=sched, lr=0.08, optimizer="sgd")
    assert history.lr == [0.08, 0.04, 0.02, 0.01]


class Counter(Callback):
    def __init__(self):
        self.batches, self.epochs_begun, self.losses = [], [], []

    def on_epoch_begin(self, epoch, history):
        self.epochs_begun.append(epoch)

    def on_batch_end(self, batch, loss):
        self.batches.append(batch)
        self.losses.append(loss)


def test_callback_on_batch_end_is_called_every_batch_and_on_epoch_begin_every_epoch():
    cb = Counter()
    history = _net().fit(X, Y, epochs=3, batch_size=16, callbacks=[cb])   # 40 rows: 3 batches
    assert cb.batches == [1, 2, 3] * 3
    assert cb.epochs_begun == [1, 2, 3]
    # the epoch loss is the size-weighted mean of the batch losses (cross-entropy: mean reduction)
    sizes = np.array([16, 16, 8] * 3)
    per_epoch = (np.array(cb.losses) * sizes).reshape(3, 3).sum(axis=1) / 40
    np.testing.assert_allclose(per_epoch, history.loss, rtol=1e-6)
    again = Counter()
    _net().fit(X, Y, epochs=2, batch_size=16, callbacks=[cb, again])
    assert again.epochs_begun == [1, 2]


def test_on_epoch_begin_sees_and_may_set_the_epochs_learning_rate():
    class Warmup(Callback):
        def on_epoch_begin(self, epoch, history):
            self.network.train_state.optimizer.lr = 0.01 * epoch

    history = _net().fit(X, Y, epochs=3, callbacks=[Warmup()], optimizer="sgd", lr=1.0)
    assert history.lr == pytest.approx([0.01, 0.02, 0.03])


def test_on_batch_end_returning_true_stops_after_that_batch():
    class StopAt(Callback):
        def on_batch_end(self, batch, loss):
            return batch == 2

    net = _net()
    history = net.fit(X, Y, epochs=5, batch_size=10, callbacks=[StopAt()])
    assert history.stop_reason == "callback"
    assert len(history) == 1 and net.train_state.step == 2


def test_on_batch_end_costs_nothing_when_no_hook_overrides_it():
    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, history):
            return None

    wrapped = [hooks.CallbackHook(EpochOnly(), Callback), hooks.CallbackHook(Counter(), Callback),
               hooks.Validation()]
    assert [type(h.callback).__name__ for h in hooks.overriding(wrapped, "on_batch_end")] == ["Counter"]
    assert hooks.overriding(wrapped, "on_epoch_begin") == [wrapped[1]]
    # a plain fit: per batch only the running loss (and accuracy, ReLU care where they apply)
    seen = {}
    real = hooks.overriding

    def spy(hs, method):
        found = real(hs, method)
        seen[method] = [type(h).__name__ for h in found]
        return found

    hooks.overriding = spy
    try:
        mlp.Network.from_sizes([3, 4, 1], hidden="tanh", seed=0).fit(X, X[:, :1], epochs=1,
                                                                       callbacks=[EpochOnly()])
    finally:
        hooks.overriding = real
    assert seen["on_batch_end"] == ["Meter"]


# -- the seams other engines and data sources plug into ---------------------------------------

def test_an_engine_replaces_the_step_factory():
    made = []

    def counting(net, optimizer, loss, opts, state, on_nonfinite):
        step = steps.numpy_step(net, optimizer, loss, opts, state, on_nonfinite)
        made.append(type(step).__name__)
        return step

    steps.ENGINES.register("counting", counting)
    try:
        a, b = _net(), _net()
        a.fit(X, Y, epochs=3, engine="counting", optimizer="sgd", lr=0.1)
        b.fit(X, Y, epochs=3, optimizer="sgd", lr=0.1)
    finally:
        steps.ENGINES._entries.pop("counting")
    assert made == ["FusedSGDStep"]
    np.testing.assert_array_equal(a.params, b.params)
    with pytest.raises(ValueError, match="unknown engine 'nope'"):
        _net().fit(X, Y, epochs=1, engine="nope")


def test_the_step_is_chosen_by_what_the_options_ask():
    def step_for(**kw):
        net = _net()
        opts = FitOptions(**kw).check(40, 1)
        return type(steps.numpy_step(net, mlp.optimizers.get(kw.get("optimizer", "adam")),
                                     mlp.CrossEntropy(), opts, None, None)).__name__

    assert step_for() == "PlainStep"
    assert step_for(optimizer="sgd", epochs=5) == "FusedSGDStep"
    assert step_for(optimizer="sgd") == "PlainStep"        # epochs="auto": weight_decay 1e-3
    assert step_for(optimizer="sgd", weight_decay=1e-3) == "PlainStep"
    assert step_for(optimizer="momentum") == "PlainStep"
    assert step_for(dropout=0.5) == "DropoutStep"
    with mlp.fast_paths(False):
        assert step_for(optimizer="sgd", epochs=5) == "PlainStep"


def test_batches_serve_the_seeded_permutation_in_order():
    y = np.arange(10.0)[:, None]
    source = Batches(np.arange(20.0).reshape(10, 2), y, batch_size=4)
    order = np.random.default_rng(5).permutation(10)
    got = list(source.epoch(np.random.default_rng(5)))
    assert [b.number for b in got] == [1, 2, 3]
    np.testing.assert_array_equal(np.concatenate([b.y[:, 0] for b in got]), order)
    assert source.n_batches == 3 and got[-1].X.shape == (2, 2)
    one = Batches(np.zeros((3, 2)), np.zeros((3, 1)), batch_size=3)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    list(one.epoch(rng))
    assert rng.bit_generator.state == state            # one batch: no permutation drawn


def test_validation_rows_is_the_one_split_rule():
    train, val = validation_rows(10, 0.2)
    assert (train, val) == (slice(0, 8), slice(8, 10))     # fit: the last rows (Keras)
    labels = np.array([0] * 6 + [1] * 4)
    train, val = validation_rows(10, 0.2, labels=labels, seed=0)   # the CLI: seeded, stratified
    assert sorted(labels[val]) == [0, 1] and len(train) == 8
    assert sorted(np.concatenate([train, val])) == list(range(10))
    with pytest.raises(ValueError, match="leaves no training or no validation example out of 1"):
        validation_rows(1, 0.5)


def test_loss_for_an_output_is_decided_in_one_place():
    assert [loss_for(a) for a in ("softmax", "sigmoid", "identity", "relu")] == \
        ["cross_entropy", "binary_cross_entropy", "mse", "mse"]
    assert loss_for(mlp.activations.get("softmax")) == "cross_entropy"


def test_fit_options_come_from_one_table():
    params = inspect.signature(mlp.training.fit).parameters
    assert list(params)[3:] == list(OPTIONS)
    assert all(params[name].default == OPTIONS[name].default for name in OPTIONS)
    for name in OPTIONS:
        if OPTIONS[name].doc:
            assert f"    {OPTIONS[name].doc.splitlines()[0]}" in mlp.training.fit.__doc__
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        _net().fit(X, Y, epoch=3)


# -- the loop reads on one screen and knows no built-in by name -------------------------------

def test_the_epoch_loop_fits_on_one_screen_and_tests_no_builtin_by_type():
    source = textwrap.dedent(inspect.getsource(loop._epochs))
    assert len(source.splitlines()) <= 60
    tree = ast.parse(source)
    for node in ast.walk(tree):
        assert not (isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("isinstance", "type"))
        if isinstance(node, ast.Compare):
            is_test = any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops)
            assert not is_test or all(isinstance(c, ast.Constant) and c.value is None
                                      for c in node.comparators), ast.unparse(node)
