"""Every error and warning message the engine raises, verbatim from PyTorch 2.13 (checked against
torch 2.13.0+cpu). Kept in one module so the differential tests can see them all in one place."""

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_INPLACE = "a view of a leaf Variable that requires grad is being used in an in-place operation."
OUT_WITH_GRAD = "{op}(): functions with out=... arguments don't support automatic differentiation, but one of the arguments requires grad."
NO_GRAD_FN = "element 0 of tensors does not require grad and does not have a grad_fn"
IMPLICIT_SCALAR = "grad can be implicitly created only for scalar outputs"
BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
    "if you need to access saved tensors after calling backward."
)
VERSION_MISMATCH = (
    "one of the variables needed for gradient computation has been modified by an inplace operation: "
    "[{tensor_type} [{shape}]]{origin} is at version {version}; expected version {expected} instead. Hint: "
    "enable anomaly detection to find the operation that failed to compute its gradient, with "
    "torch.autograd.set_detect_anomaly(True, check_nan=False)."
)
NONLEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute won't be "
    "populated during autograd.backward(). If you indeed want the .grad field to be populated for a non-leaf "
    "Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure "
    "you access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 for more information."
)
NONLEAF_REQUIRES_GRAD = (
    "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a "
    "subgraph that doesn't require differentiation use var_no_grad = var.detach()."
)
NONLEAF_REQUIRES_GRAD_TRUE = "you can only change requires_grad flags of leaf variables."
INT_REQUIRES_GRAD_FACTORY = "Only Tensors of floating point and complex dtype can require gradients"
INT_REQUIRES_GRAD_METHOD = "only Tensors of floating point dtype can require gradients"
INT_REQUIRES_GRAD_ATTR = "only Tensors of floating point and complex dtype can require gradients"
NUMPY_REQUIRES_GRAD = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode in "
    "computation tracked by autograd. To work around this, you can make a clone to get a normal tensor and use "
    "it in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`."
)
INFERENCE_INPLACE = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a "
    "normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details."
)
INFERENCE_VERSION = "Inference tensors do not track version counter."
ITEM_MULTI = "a Tensor with {n} elements cannot be converted to Scalar"
BN_ONE_VALUE = "Expected more than 1 value per channel when training, got input size torch.Size({shape})"
EMPTY_PARAMS = "optimizer got an empty parameter list"
NONLEAF_OPTIMIZE = "can't optimize a non-leaf Tensor"
VOLATILE_REMOVED = "volatile was removed and now has no effect. Use `with torch.no_grad():` instead."
VOLATILE_AND_GRAD = "Variable can't be volatile and require_grad at the same time!"
ZERO_DIM_INDEX = (
    "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim "
    "tensor to a number"
)
ZERO_DIM_OUT_OF_BOUNDS = "index {index} is out of bounds for dimension 0 with size 0"
LEGACY_FUNCTION = (
    "Legacy autograd function with non-static forward method is deprecated. Please use new-style autograd function "
    "with static forward method. (Example: https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)"
)
FUNCTION_INSTANTIATED = (
    "{cls} should not be instantiated. Methods on autograd functions are all static, so you should invoke them on "
    "the class itself. Instantiating an autograd function will raise an error in a future version of PyTorch."
)
UNSUPPORTED = "{what} is not supported by the gradlint runtime"


class UnsupportedError(NotImplementedError):
    """Raised for anything outside the engine's subset: never a wrong answer."""


def unsupported(what: str) -> UnsupportedError:
    return UnsupportedError(UNSUPPORTED.format(what=what))

RETAIN_GRAD_NO_GRAD = "can't retain_grad on Tensor that has requires_grad=False"
GRAD_SHAPE = ("attempting to assign a gradient of size '{got}' to a tensor of size '{want}'. Please ensure that the "
              "gradient and the tensor are the same size")
GRAD_DTYPE = ("attempting to assign a gradient with dtype '{got}' to a tensor with grad_dtype '{want}'. The gradient "
              "must match the tensor's grad_dtype (defaults to the tensor's dtype). You can set the tensor's grad_dtype "
              "attribute with a specific dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the "
              "dtypes of a tensor and its gradient may break downstream systems that assume they match.")
DETACH_VIEW = ("Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel (DDP) for "
               "training, and gradient_as_bucket_view is set as True, gradients are views of DDP buckets, and hence "
               "detach_() cannot be called on these gradients. To fix this error, please refer to the "
               "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
VIEW_NO_GRAD_INPLACE = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given that this use "
    "case is ambiguous and error-prone, it is forbidden. You can clarify your code by moving both the view and the "
    "inplace either both inside the no_grad block (if you don't want the inplace to be tracked) or both outside (if "
    "you want the inplace to be tracked).")
VIEW_MULTI_INPLACE = (
    "Output {i} of {fn} is a view and is being modified inplace. This view is the output of a function that returns "
    "multiple views. Such functions do not allow the output views to be modified inplace. You should replace the "
    "inplace operation by an out-of-place one.")
INPLACE_CAST = "result type {got} can't be cast to the desired output type {want}"
INPLACE_SHAPE = "output with shape {want} doesn't match the broadcast shape {got}"
OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
           "location. Please clone() the tensor before performing the operation.")
DIM_RANGE = "Dimension out of range (expected to be in range of [{lo}, {hi}], but got {d})"
BROADCAST = "The size of tensor a ({a}) must match the size of tensor b ({b}) at non-singleton dimension {d}"
MM_SHAPES = "mat1 and mat2 shapes cannot be multiplied ({a0}x{a1} and {b0}x{b1})"
MV_SHAPES = "size mismatch, got input ({n}), mat ({a0}x{a1}), vec ({v})"
DOT_SHAPES = ("inconsistent tensor size, expected tensor [{a}] and src [{b}] to have the same number of elements, "
              "but got {a} and {b} elements respectively")
GRAD_OUTPUT_SHAPE = "Mismatch in shape: grad_output[{i}] has a shape of {got} and output[{i}] has a shape of {want}."
DUPLICATE_PARAMS = "some parameters appear in more than one parameter group"
NOT_TENSOR_ARG = "{fn}(): argument '{arg}' (position {pos}) must be Tensor, not {got}"
PARTIAL_OVERLAP = ("unsupported operation: some elements of the input tensor and the written-to tensor refer to a "
                   "single memory location. Please clone() the tensor before performing the operation.")
VIEW_INFERENCE_INPLACE = (
    "A view was created in inference mode and is being modified inplace in normal mode. Given that this use case "
    "is ambiguous and error-prone, it is forbidden. You can clarify your code by moving both the view and the "
    "inplace either both inside the inference_mode block (if you don't want the inplace to be tracked) or both "
    "outside (if you want the inplace to be tracked).")
INFERENCE_REQUIRES_GRAD = "Setting requires_grad=True on inference tensor outside InferenceMode is not allowed."
VIEW_NO_GRAD_BASE_MODIFIED = (
    "A view was created in no_grad mode and its base or another view of its base has been modified inplace with "
    "grad mode enabled. Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
    "your code by moving both the view and the inplace either both inside the no_grad block (if you don't want "
    "the inplace to be tracked) or both outside (if you want the inplace to be tracked).")
VIEW_INFERENCE_BASE_MODIFIED = (
    "A view was created in inference mode and its base or another view of its base has been modified inplace in "
    "normal mode. Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code "
    "by moving both the view and the inplace either both inside the inference_mode block (if you don't want the "
    "inplace to be tracked) or both outside (if you want the inplace to be tracked).")
VIEW_MULTI_BASE_MODIFIED = (
    "Output {i} of {fn} is a view and its base or another view of its base has been modified inplace. This view is "
    "the output of a function that returns multiple views. Such functions do not allow the output views to be "
    "modified inplace. You should replace the inplace operation by an out-of-place one.")
NLL_TARGET_BOUNDS = "Target {t} is out of bounds."
NLL_BATCH = "Expected input batch_size ({n}) to match target batch_size ({m})."
