"""Evaluation-code cases shared by the GL004 and GL005 tests: each with the rows both rules must report."""

EVAL_CASES = {
    # name: (code, expected GL004 rows, expected GL005 rows)
    "evaluate_bare": ("""
        import torch
        def evaluate(model, loader):
            for x, y in loader:
                out = model(x)
        """, [5], [5]),
    "validate_no_grad_no_eval": ("""
        import torch
        def validate(net, loader):
            with torch.no_grad():
                return [net(x) for x, _ in loader]
        """, [5], []),
    "eval_no_grad": ("""
        import torch
        def test(model, device, test_loader):
            model.eval()
            with torch.no_grad():
                for data, target in test_loader:
                    output = model(data)
        """, [], []),
    "decorated_inference": ("""
        import torch
        @torch.inference_mode()
        def predict(model, x):
            model.eval()
            return model(x)
        """, [], []),
    "train_false_and_rebind": ("""
        import torch
        def evaluate(model, x):
            model = model.eval()
            with torch.set_grad_enabled(False):
                return model(x)
        def evaluate2(model, x):
            model.train(False)
            with torch.no_grad():
                return model(x)
        """, [], []),
    "helper_sets_eval": ("""
        import torch
        def set_eval(m):
            m.eval()
        @torch.no_grad()
        def evaluate(model, x):
            set_eval(model)
            return model(x)
        """, [], []),
    "caller_sets_eval_and_no_grad": ("""
        import torch
        def evaluate(model, loader):
            return [model(x) for x in loader]
        model.eval()
        with torch.no_grad():
            evaluate(model, val_loader)
        """, [], []),
    "trainer_class": ("""
        import torch
        class Trainer:
            def __init__(self, model):
                self.model = model
            def validate(self, loader):
                self.model.eval()
                for x, y in loader:
                    out = self.model(x)
        """, [], [9]),
    "val_loop_in_train": ("""
        import torch
        def train(model, train_loader, val_loader, opt):
            for x, y in train_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            with torch.no_grad():
                for x, y in val_loader:
                    out = model(x)
        """, [10], []),
    "loaders_subscript": ("""
        import torch
        def run(model, loaders):
            model.eval()
            for x, y in loaders["val"]:
                out = model(x)
        """, [], [6]),
    "loop_after_eval": ("""
        import torch
        model.eval()
        preds = []
        for x in batches:
            preds.append(model(x))
        """, [], [6]),
    "saliency": ("""
        import torch
        def evaluate_saliency(model, x):
            model.eval()
            x.requires_grad_()
            model(x).sum().backward()
            return x.grad
        """, [], []),
    "enable_grad_fgsm": ("""
        import torch
        @torch.no_grad()
        def evaluate_adv(model, x):
            model.eval()
            with torch.enable_grad():
                x = x.clone().requires_grad_(True)
                model(x).sum().backward()
            return model(x + x.grad.sign())
        """, [], []),
    "lightning_hooks": ("""
        import torch
        import lightning as L
        class Lit(L.LightningModule):
            def validation_step(self, batch, i):
                return self.net(batch[0])
            def test_step(self, batch, i):
                return self.net(batch[0])
            def predict_step(self, batch, i):
                return self.net(batch[0])
        """, [], []),
    "module_own_predict": ("""
        import torch.nn as nn
        class Net(nn.Module):
            def predict(self, x):
                return self.forward(x).argmax(1)
        """, [], []),
    "non_ml_validate": ("""
        import torch
        def validate(config):
            for key in config:
                check(key)
        """, [], []),
    "z3_solver_model": ("""
        import torch
        def _validate(solver):
            if solver.check():
                model = solver.model()
        """, [], []),
    "keras_file": ("""
        import tensorflow as tf
        def evaluate(model, ds):
            for x in ds:
                model(x)
        """, [], []),
    "training_loop_over_test_named_loader": ("""
        import torch
        def adapt(model, test_loader, opt):
            for x, y in test_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
        """, [], []),
}

# Real-library look-alikes (transformers, timm): none of these is evaluation code the file controls.
EVAL_CASES.update({
    "method_of_class_with_forward_and_external_base": ("""
        import torch
        from .modeling_base import BasePreTrainedModel
        class Segmenter(BasePreTrainedModel):
            def forward(self, x):
                return self.head(x)
            def predict(self, x):
                return self.class_predictor(x)
        """, [], []),
    "framework_subclass_hook": ("""
        import torch
        from transformers import Trainer
        class MyTrainer(Trainer):
            def prediction_step(self, model, inputs):
                with torch.no_grad():
                    return model(**inputs)
        """, [], []),
    "relative_base_pipeline": ("""
        import torch
        from .base import Pipeline
        class TablePipeline(Pipeline):
            def batch_inference(self, **inputs):
                return self.model(**inputs)
        """, [], []),
    "own_method_named_like_a_model": ("""
        import torch
        class Evaluator:
            def _wrap_model(self, model, training=True):
                return model
            def evaluation_loop(self, loader):
                model = self._wrap_model(self.model, training=False)
                model.eval()
                with torch.no_grad():
                    for x in loader:
                        model(x)
        """, [], []),
    "module_function_named_like_a_model": ("""
        import torch
        def _is_peft_model(model):
            return hasattr(model, "peft_config")
        def validate_quantization(model):
            return not _is_peft_model(model)
        """, [], []),
})

EVAL_CASES.update({
    "verb_on_a_model_is_not_a_model": ("""
        import torch
        def evaluation_loop(self, loader):
            model = self.accelerator.prepare_model(self.model, evaluation_mode=True)
            return model
        """, [], []),
    "noun_model_names_still_models": ("""
        import torch
        def evaluate(student_model, loader):
            for x in loader:
                student_model(x)
        """, [5], [5]),
})
