"""GL004 eval-mode-missing: evaluation code without model.eval() (cases shared with GL005 in eval_cases.py)."""

from __future__ import annotations

import pytest

from ._lint import rows
from .eval_cases import EVAL_CASES


@pytest.mark.parametrize("name", sorted(EVAL_CASES))
def test_gl004(name):
    code, gl004, _ = EVAL_CASES[name]
    assert rows("GL004", code) == gl004


def test_pytest_functions_in_test_files_are_not_evaluation_code():
    code = "import torch\ndef test_accuracy():\n    for x, y in loader:\n        model(x)\n"
    assert rows("GL004", code, "tests/test_model.py") == []

    smoke = "import torch\ndef test_forward():\n    model = Net()\n    assert model(x).shape == (2, 3)\n"
    assert rows("GL004", smoke, "scripts/check.py") == []


@pytest.mark.parametrize("model_code, tier", [
    ("net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\n", "hygiene"),  # nothing depends on the mode
    ("net = nn.Sequential(nn.Linear(2, 2), nn.Dropout())\n", "bug"),
    ("net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))\n", "bug"),
    ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n"
     "    def forward(self, x):\n        return self.fc(x)\nnet = Net()\n", "hygiene"),
    ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n"
     "    def forward(self, x):\n        return F.dropout(self.fc(x), 0.5, training=self.training)\nnet = Net()\n", "bug"),
    ("net = torchvision.models.resnet18()\n", "bug"),  # built elsewhere: may have BatchNorm (it does)
])
def test_tier_follows_what_the_model_is_built_from(model_code, tier):
    from gradlint.linter import lint_source
    from gradlint.settings import Settings

    code = ("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport torchvision\n" + model_code
            + "with torch.no_grad():\n    for x, y in test_loader:\n        out = net(x)\n")
    (d,) = lint_source(code, "t.py", Settings(selected=frozenset({"GL004"}))).diagnostics
    assert d.tier == tier


_PREAMBLE = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport d2lzh_pytorch as d2l\n"


def _tiers(code):
    from gradlint.linter import lint_source
    from gradlint.settings import Settings

    return [(d.location.row, d.tier) for d in
            lint_source(_PREAMBLE + code, "t.py", Settings(selected=frozenset({"GL004"}))).diagnostics]


_TRAIN_CH7 = """
def linreg(X, w, b):
    return torch.mm(X, w) + b

def squared_loss(y_hat, y):
    return ((y_hat - y.view(y_hat.size())) ** 2) / 2

def train_ch7(optimizer_fn, states, hyperparams, features, labels, batch_size=10, num_epochs=2):
    net, loss = MODEL, squared_loss
    w = torch.nn.Parameter(torch.zeros(features.shape[1], 1), requires_grad=True)
    b = torch.nn.Parameter(torch.zeros(1, dtype=torch.float32), requires_grad=True)

    def eval_loss():
        return loss(net(features, w, b), labels).mean().item()

    ls = [eval_loss()]
    data_iter = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(features, labels), batch_size)
    for _ in range(num_epochs):
        for batch_i, (X, y) in enumerate(data_iter):
            l = loss(net(X, w, b), y).mean()
            l.backward()
            optimizer_fn([w, b], states, hyperparams)
            if (batch_i + 1) * batch_size % 100 == 0:
                ls.append(eval_loss())
"""


@pytest.mark.parametrize("model, expected", [
    # Dive-into-DL's train_ch7: `net` is a plain function (no train/eval mode, no `.eval()` to call)
    ("linreg", []),
    ("d2l.linreg", []),
    ("lambda X, w, b: X @ w + b", []),
    # look-alikes: a model built right there (an imported class: may have Dropout), or a model name
    ("d2l.Net()", [(18, "bug")]),
    ("d2l.net", [(18, "bug")]),
])
def test_tuple_unpacked_function_is_no_model(model, expected):
    assert _tiers(_TRAIN_CH7.replace("MODEL", model)) == expected


_EVALUATE = """
class BiRNN(nn.Module):
    def __init__(self, vocab, embed_size, num_hiddens, num_layers):
        super(BiRNN, self).__init__()
        self.embedding = nn.Embedding(len(vocab), embed_size)
        self.encoder = nn.LSTM(input_size=embed_size, hidden_size=num_hiddens, num_layers=num_layers,
                               bidirectional=True LSTM_EXTRA)
        self.decoder = nn.Linear(4 * num_hiddens, 2)

    def forward(self, inputs):
        embeddings = self.embedding(inputs.permute(1, 0))
        outputs, _ = self.encoder(embeddings)
        return self.decoder(torch.cat((outputs[0], outputs[-1]), -1))

def predict_sentiment(net, vocab, sentence):
    label = torch.argmax(net(sentence.view((1, -1))), dim=1)
    return 'positive' if label.item() == 1 else 'negative'

net = NET
net = net.to(device)
predict_sentiment(net, vocab, ['this', 'movie', 'is', 'so', 'great'])
"""


@pytest.mark.parametrize("lstm, net, tier", [
    # a parameter: every call site passes a model of this file built only of mode-independent layers
    ("", "BiRNN(vocab, 100, 100, 2)", "hygiene"),
    # look-alikes: dropout between the LSTM layers, a model of another module, a pretrained torchvision model
    (", dropout=0.5", "BiRNN(vocab, 100, 100, 2)", "bug"),
    ("", "d2l.BiRNN(vocab, 100, 100, 2)", "bug"),
    ("", "load_model('birnn.pt')", "bug"),
])
def test_tier_of_a_parameter_follows_the_call_sites(lstm, net, tier):
    assert _tiers(_EVALUATE.replace(" LSTM_EXTRA", lstm).replace("NET", net)) == [(20, tier)]


@pytest.mark.parametrize("layer, tier", [
    # Dive-into-DL's RNNModel(rnn_layer, vocab_size): the layer handed in is what the constructor call passes
    ("nn.LSTM(10, 20)", "hygiene"),
    ("nn.LSTM(10, 20, num_layers=2, dropout=0.5)", "bug"),
    ("make_rnn(10, 20)", "bug"),  # unknown
])
def test_tier_with_a_layer_handed_to_the_models_class_follows_the_constructor_call(layer, tier):
    code = """
class RNNModel(nn.Module):
    def __init__(self, rnn_layer, vocab_size):
        super(RNNModel, self).__init__()
        self.rnn = rnn_layer
        self.dense = nn.Linear(rnn_layer.hidden_size, vocab_size)

    def forward(self, inputs, state):
        Y, self.state = self.rnn(inputs, state)
        return self.dense(Y.view(-1, Y.shape[-1])), self.state

def predict_rnn(prefix, model):
    for t in range(10):
        Y, state = model(X, state)

rnn_layer = LAYER
predict_rnn('a', RNNModel(rnn_layer, 10))
"""
    assert _tiers(code.replace("LAYER", layer)) == [(18, tier)]


_NOTEBOOK = """
class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        return F.log_softmax(self.fc2(F.relu(self.fc1(x.view(x.shape[0], -1)))), dim=1)

model = Classifier()
for e in range(3):
    for images, labels in trainloader:
        optimizer.zero_grad()
        criterion(model(images), labels).backward()
        optimizer.step()
    with torch.no_grad():
        for images, labels in testloader:
            log_ps = model(images)

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 10)
        self.dropout = nn.Dropout(p=0.2)

    def forward(self, x):
        return F.log_softmax(self.fc2(self.dropout(F.relu(self.fc1(x.view(x.shape[0], -1))))), dim=1)

model = Classifier()
for e in range(3):
    for images, labels in trainloader:
        optimizer.zero_grad()
        criterion(model(images), labels).backward()
        optimizer.step()
    with torch.no_grad():
        for images, labels in testloader:
            log_ps = model(images)
"""


def test_tier_follows_the_class_definition_in_force():
    # udacity's Part 5 notebook: the first Classifier has no Dropout, the redefinition later has
    assert _tiers(_NOTEBOOK) == [(23, "hygiene"), (43, "bug")]


def test_tier_of_a_model_built_in_the_function_ignores_other_models_of_the_file():
    # Dive-into-DL's utils.py: nn.Sequential(nn.Linear) here, Dropout in another function of the file
    code = """
def train_pytorch_ch7(features, labels):
    net = nn.Sequential(nn.Linear(features.shape[-1], 1))
    loss = nn.MSELoss()

    def eval_loss():
        return loss(net(features).view(-1), labels).item() / 2

    return [eval_loss()]

def other():
    return nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
"""
    assert _tiers(code) == [(11, "hygiene")]
    assert _tiers(code.replace("nn.Linear(features.shape[-1], 1))", "nn.Linear(3, 3), nn.BatchNorm1d(3))")) == [
        (11, "bug")]


_D2L_SELF = """
import sys
d2l = sys.modules[__name__]

def evaluate_loss(net, data_iter, loss):
    metric = []
    for X, y in data_iter:
        out = net(X)
        metric.append(loss(out, y).sum().item())
    return sum(metric)

def train_ch11(data_iter):
    w = torch.zeros(5, 1, requires_grad=True)
    net, loss = lambda X: d2l.linreg(X, w), d2l.squared_loss
    for X, y in data_iter:
        loss(net(X), y).mean().backward()
        print(d2l.evaluate_loss(net, data_iter, loss))

def train_concise_ch11(trainer_fn, data_iter):
    net = nn.Sequential(LAYERS)
    optimizer = trainer_fn(net.parameters())
    for X, y in data_iter:
        optimizer.zero_grad()
        nn.MSELoss()(net(X), y).backward()
        optimizer.step()
        print(d2l.evaluate_loss(net, data_iter, nn.MSELoss()))
"""


@pytest.mark.parametrize("header, layers, tier", [
    # d2l/torch.py calls its own functions through `d2l = sys.modules[__name__]`: those are call sites
    ("d2l = sys.modules[__name__]", "nn.Linear(5, 1)", "hygiene"),
    ("d2l = sys.modules[__name__]", "nn.Linear(5, 1), nn.Dropout(0.5)", "bug"),
    # look-alike: `d2l` is another module, whose calls of evaluate_loss this file cannot see
    ("from d2l import torch as d2l", "nn.Linear(5, 1)", "bug"),
])
def test_calls_through_the_files_own_module_are_call_sites(header, layers, tier):
    from gradlint.linter import lint_source
    from gradlint.settings import Settings

    code = _PREAMBLE + _D2L_SELF.replace("d2l = sys.modules[__name__]", header).replace("LAYERS", layers)
    (d,) = lint_source(code, "d2l/torch.py", Settings(selected=frozenset({"GL004"}))).diagnostics
    assert (d.location.row, d.tier) == (12, tier)
    # the training loops call it: `.eval()` at its start would leave the model in eval mode (and a lambda
    # has no `.eval()`), so there is no fix when the call sites are seen
    assert (d.fix is None) == header.startswith("d2l =")


_GLOBAL_MODEL = (
    "import torch\nfrom torchvision import models\n"
    "detection = models.detection.maskrcnn_resnet50_fpn(pretrained=True)\n"
    "{switch}"
    "def predict(img):\n"
    "    pred = detection([img])\n"
    "    return pred[0]['boxes']\n"
    "{after}"
)


@pytest.mark.parametrize("switch, after, expected", [
    # the top level puts the model in eval mode for good (chenyuntc/pytorch-book, chapter 5): silent
    ("detection.eval()\n", "", 0),
    ("detection.train(False)\n", "", 0),
    ("detection.eval()\n", "x = 1\n", 0),
    # no switch; or a later `train()` of it; or a helper that may put any model back in train mode
    ("", "", 1),
    ("detection.eval()\n", "detection.train()\n", 1),
    ("detection.eval()\n", "def fit(m):\n    m.train()\n", 1),
    # another model put in eval mode
    ("other.eval()\n", "", 1),
    # called at the top level before the switch: the model is in train mode there
    ("", "predict(img)\ndetection.eval()\n", 1),
])
def test_a_global_model_left_in_eval_mode_by_the_top_level(switch, after, expected):
    assert len(rows("GL004", _GLOBAL_MODEL.format(switch=switch, after=after))) == expected


def test_a_local_model_named_like_the_global_model_is_not_the_global():
    code = ("import torch\nfrom torchvision import models\n"
            "detection = models.detection.maskrcnn_resnet50_fpn(pretrained=True)\ndetection.eval()\n"
            "def predict(img):\n    detection = models.detection.maskrcnn_resnet50_fpn()\n"
            "    return detection([img])\n")
    assert len(rows("GL004", code)) == 1


@pytest.mark.parametrize("calls, expected", [
    # called from a function the top level calls after the switch (the book's `instance_segmentation`)
    ("def show(path):\n    return predict(path)\ndetection.eval()\nshow('a.jpg')\n", 0),
    ("detection.eval()\npredict('a.jpg')\n", 0),
    # called, directly or through a helper, before the switch: the model is in train mode then
    ("def show(path):\n    return predict(path)\nshow('a.jpg')\ndetection.eval()\n", 1),
    ("predict('a.jpg')\ndetection.eval()\n", 1),
])
def test_a_global_model_left_in_eval_mode_before_the_calls(calls, expected):
    assert len(rows("GL004", _GLOBAL_MODEL.format(switch="", after=calls))) == expected


# a recurrent model class; the file also spells a mode-dependent layer that is not the model, so the class decides
_RNN_NET = ("import torch\nimport torch.nn as nn\nhead = nn.Dropout(0.5)\n"
            "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.rnn = {layer}\n"
            "    def forward(self, x):\n        return self.rnn(x)[0]\n")


@pytest.mark.parametrize("layer, tier", [
    ("nn.GRU(8, 8, 2, bidirectional=True)", "hygiene"),  # hunkim/PyTorchZeroToAll 13_2: no dropout
    ("nn.GRU(8, 8, 2, dropout=0.1)", "bug"),
])
def test_tier_sees_through_data_parallel(layer, tier):
    code = (_RNN_NET.format(layer=layer) +
            "net = Net()\nif torch.cuda.device_count() > 1:\n    net = nn.DataParallel(net)\n"
            "def test():\n    for x, y in loader:\n        net(x)\n")
    assert [t for _, t in _tiers(code)] == [tier]


@pytest.mark.parametrize("helper, tier", [
    # hunkim/PyTorchZeroToAll seq2seq_models: `init_hidden` wraps a tensor with a helper of the file
    ("def cuda_variable(t):\n    return t.cuda() if torch.cuda.is_available() else t\n", "hygiene"),
    # a helper that builds a layer (or anything mode-dependent) may register it: unknown
    ("def cuda_variable(t):\n    return nn.Dropout(0.5)\n", "bug"),
    ("def cuda_variable(t):\n    return nn.Linear(2, 2)\n", "bug"),
])
def test_tier_with_a_helper_called_outside_init(helper, tier):
    code = ("import torch\nimport torch.nn as nn\n" + helper +
            "head = nn.Dropout(0.5)\n"  # (the file spells a mode-dependent layer: the class decides)
            "class Enc(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.gru = nn.GRU(8, 8)\n"
            "    def forward(self, x, h):\n        return self.gru(x, h)\n"
            "    def init_hidden(self):\n        return cuda_variable(torch.zeros(1, 1, 8))\n"
            "enc = Enc()\n"
            "def test():\n    for x, y in loader:\n        enc(x, enc.init_hidden())\n")
    assert [t for _, t in _tiers(code)] == [tier]


@pytest.mark.parametrize("layer, tier", [
    ("nn.GRU(8, 8, 2)", "hygiene"),
    ("nn.GRU(8, 8, 2, dropout=0.2)", "bug"),
])
def test_tier_of_a_global_assigned_after_the_function(layer, tier):
    # hunkim/PyTorchZeroToAll 13_2: `test()` reads `classifier`, built under `if __name__ == "__main__":`
    code = (_RNN_NET.format(layer=layer) +
            "def test():\n    for x, y in loader:\n        classifier(x)\n"
            "if __name__ == '__main__':\n    classifier = Net()\n    test()\n")
    assert [t for _, t in _tiers(code)] == [tier]


# An `.eval()` counts for the model it switches (and the objects that are the same model): `student.eval()`
# then an evaluation through `teacher(x)`, or `model.eval()` then the EMA copy `ema_model(x)` made while the
# model was in train mode, leaves the evaluated model in train mode. Reported only when the evaluated model is
# known to be another object than every switched one; aliases, wrappers, attributes of other objects
# (`ema.module`) and copies whose mode is unknown stay silent.
_TWO_HEAD = (
    "import copy\n"
    "import torch\n"
    "import torch.nn as nn\n"
    "student = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))\n"
    "teacher = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))\n"
)
_EMA_HEAD = (
    "import copy\n"
    "import torch\n"
    "import torch.nn as nn\n"
    "model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.Dropout(0.3), nn.Linear(32, 3))\n"
    "model.train()\n"
    "ema_model = copy.deepcopy(model)\n"
)
_EMA_EVALUATE = """
def evaluate(model, ema_model, batches):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in batches:
            total += loss_fn(ema_model(x), y).item()
    return total
"""

OTHER_MODEL_BAD = {
    # bug_27: the EMA copy, taken in train mode, evaluated after `model.eval()`
    "ema_copy_parameter": (_EMA_HEAD + _EMA_EVALUATE + "e1, e2 = evaluate(model, ema_model, val), "
                           "evaluate(model, ema_model, val)\n", "ema_model(x)"),
    # a teacher of the module's top level, evaluated after `student.eval()`
    "teacher_global": (_TWO_HEAD + """
def evaluate(batches):
    student.eval()
    outs = []
    with torch.no_grad():
        for x in batches:
            outs.append(teacher(x))
    return outs
""", "teacher(x)"),
    # an evaluation loop of the top level
    "teacher_top_level_loop": (_TWO_HEAD + """
student.eval()
with torch.no_grad():
    for x, y in val_loader:
        out = teacher(x)
""", "teacher(x)"),
    # two parameters, the first one switched, the second one evaluated
    "teacher_parameter": (_TWO_HEAD + """
def validate(student_net, teacher_net, loader):
    student_net.eval()
    with torch.no_grad():
        for x, y in loader:
            agreement = (teacher_net(x).argmax(1) == y).float().mean()
validate(student, teacher, val_loader)
""", "teacher_net(x)"),
    # a module class of the file, built apart from the switched model
    "teacher_class_of_the_file": (_TWO_HEAD + """
class Teacher(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2))
    def forward(self, x):
        return self.body(x)
big = Teacher()
def predict(batches):
    student.eval()
    with torch.no_grad():
        return [big(x).argmax(1) for x in batches] + [big(batches[0])]
""", "+ [big(batches[0])]"),
    # a head built apart, with its own Dropout, on top of the switched model
    "separate_head": (_EMA_HEAD + """
head = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.1))
def evaluate(batches):
    model.eval()
    with torch.no_grad():
        for x in batches:
            probs = head(model(x)).softmax(1)
""", "head(model(x))"),
    # a distiller object: another method switches the student only
    "distiller_attributes": (_TWO_HEAD + """
class Distiller:
    def __init__(self):
        self.student = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
        self.teacher = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    def prepare(self):
        self.student.eval()
    def evaluate(self, loader):
        self.prepare()
        for x, y in loader:
            out = self.teacher(x)
""", "self.teacher(x)"),
}

OTHER_MODEL_GOOD = {
    # both switched
    "both_switched": _TWO_HEAD + "def evaluate(batches):\n    student.eval()\n    teacher.eval()\n"
                                 "    for x in batches:\n        teacher(x)\n",
    # the teacher put in eval mode by the caller
    "teacher_switched_by_the_caller": _TWO_HEAD + "def evaluate(batches):\n    student.eval()\n"
                                                  "    for x in batches:\n        teacher(x)\n"
                                                  "teacher.eval()\nevaluate(val)\n",
    # an alias of the switched model
    "alias": _TWO_HEAD + "net = student\ndef evaluate(batches):\n    student.eval()\n"
                         "    for x in batches:\n        net(x)\n",
    # a wrapper running the switched model
    "data_parallel": _TWO_HEAD + "dp = nn.DataParallel(student)\ndef evaluate(batches):\n    student.eval()\n"
                                 "    for x in batches:\n        dp(x)\n",
    # the copy was made after `model.eval()`: it is in eval mode too
    "copy_made_in_eval_mode": _EMA_HEAD.replace("model.train()", "model.eval()") + _EMA_EVALUATE
    + "evaluate(model, ema_model, val)\n",
    # the copy's mode is not known (nothing switched the original before the copy)
    "copy_of_unknown_mode": _EMA_HEAD.replace("model.train()\n", "") + _EMA_EVALUATE
    + "evaluate(model, ema_model, val)\n",
    # the same object passed for both parameters
    "same_model_twice": _EMA_HEAD + _EMA_EVALUATE + "evaluate(model, model, val)\n",
    # an attribute of another object (`ema.module`): the file cannot tell which model it is
    "attribute_of_another_object": _EMA_HEAD + "def evaluate(batches):\n    model.eval()\n"
                                               "    for x in batches:\n        ema.module(x)\n",
    # the same distiller, switching the teacher in another method
    "distiller_teacher_switched_elsewhere": _TWO_HEAD + """
class Distiller:
    def __init__(self):
        self.student = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
        self.teacher = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
        self.teacher.eval()
    def evaluate(self, loader):
        self.student.eval()
        for x, y in loader:
            out = self.teacher(x)
""",
    # a helper of the file switching the teacher it is handed
    "teacher_switched_by_a_helper": _TWO_HEAD + "def freeze(m):\n    m.eval()\n"
                                                "def evaluate(batches):\n    student.eval()\n    freeze(teacher)\n"
                                                "    for x in batches:\n        teacher(x)\n",
    # a container of the switched model's own layers (they are in eval mode)
    "parts_of_the_model": _EMA_HEAD + "feat = nn.Sequential(model[0], model[1])\n"
                                      "body = nn.Sequential(*list(model.children())[:-1])\n"
                                      "def evaluate(batches):\n    model.eval()\n"
                                      "    for x in batches:\n        feat(x)\n        body(x)\n",
    # a model that may start in eval mode: `from_pretrained` returns one, a class that switches itself
    "from_pretrained": _EMA_HEAD + "from transformers import AutoModel\nbert = AutoModel.from_pretrained('b')\n"
                                   "def evaluate(batches):\n    model.eval()\n"
                                   "    for x in batches:\n        bert(x)\n",
    "class_that_switches_itself": _EMA_HEAD + "class Frozen(nn.Module):\n    def __init__(self):\n"
                                              "        super().__init__()\n        self.f = nn.Dropout()\n"
                                              "        self.eval()\nfeat = Frozen()\n"
                                              "def evaluate(batches):\n    model.eval()\n"
                                              "    for x in batches:\n        feat(x)\n",
    # a module without train/eval behaviour beside the model
    "mode_free_module": _EMA_HEAD + "softmax = nn.Softmax(dim=1)\ndef evaluate(batches):\n    model.eval()\n"
                                    "    for x in batches:\n        softmax(model(x))\n",
}


@pytest.mark.parametrize("name", OTHER_MODEL_BAD)
def test_eval_of_another_model_does_not_count(name):
    code, call = OTHER_MODEL_BAD[name]
    row = next(i for i, line in enumerate(code.splitlines(), 1) if call in line)
    assert rows("GL004", code) == [row]


@pytest.mark.parametrize("name", OTHER_MODEL_GOOD)
def test_eval_of_the_same_model_counts(name):
    assert rows("GL004", OTHER_MODEL_GOOD[name]) == []


def test_two_parameters_of_an_evaluation_function():
    """Two parameters are two models; the second one is reported when no call of the file fills it, not when
    a call passes something the file cannot follow (a wrapper such as timm's `ModelEmaV2` keeps its copy in
    eval mode)."""
    code = ("import torch\n"
            "def evaluate(model, ema_model, batches):\n"
            "    model.eval()\n"
            "    with torch.no_grad():\n"
            "        for x in batches:\n"
            "            out = ema_model(x)\n")
    assert rows("GL004", code) == [6]
    assert rows("GL004", code + "from timm.utils import ModelEmaV2\nevaluate(net, ModelEmaV2(net), val)\n") == []
