"""Model extensions: more facts recorded in the same single walk over a file.

The core model (`gradlint.model.builder.ModelBuilder`) records what GL001-GL005 need. A rule that needs
other facts declares an extension class in `Rule.extensions`; the linter builds only the extensions
that the selected rules ask for, and each is driven by the builder's own walk — there is never a second
walk over the tree.

An extension defines `visit_<NodeType>(self, node)` / `leave_<NodeType>(self, node)` like a walker.
Its `visit_` runs right *after* the builder's (so the builder's state already reflects the node: the
grad-mode region of a `with`, the function of a `def`, the loop of a `for`), its `leave_` right
*before* the builder's (the state is still inside the node). Return values are ignored: an extension
cannot skip children. Through `self.b` it reads the builder's flow-sensitive state:

    self.b.classify(expr)   -> Value   what an expression holds here (LEAF, NONLEAF, MODULE, ...)
    self.b.mode             -> Mode    the grad mode of the current region (INHERITED inside a plain def)
    self.b.function         -> FunctionInfo | None
    self.b.loop             -> LoopInfo | None   (the innermost loop of the current function)
    self.b.enclosing_loops  -> list[LoopInfo]    (the enclosing loops of the current function, outermost first)
    self.b.loops / functions / classes / model_calls / ...  the facts recorded so far (see builder)
    self.b.imports.resolve(expr) -> "torch.no_grad" ...
    self.b.next_seq()       -> int     a sequence point (statement order across the file)

`finish(model)` runs once after the walk, with the SemanticModel (for `model.effective_mode(...)`,
call sites, …). Rules get the extension with `model.ext(ExtensionClass)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from gradlint.model import SemanticModel
    from gradlint.model.builder import ModelBuilder


class Extension:
    name: ClassVar[str] = ""

    def __init__(self, builder: "ModelBuilder") -> None:
        self.b = builder

    def finish(self, model: "SemanticModel") -> None:
        """Called once after the walk."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.name:
            cls.name = cls.__name__
