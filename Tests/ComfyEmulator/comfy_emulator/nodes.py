"""Node base class, the node registry and the /object_info NodeInfo builder.

A node class declares its inputs like a ComfyUI V1 node (``input_types`` returns the
``{"required": {...}, "optional": {...}, "hidden": {...}}`` dict, each input being
``[TYPE]`` or ``[TYPE, {options}]``), its RETURN_TYPES, whether it is an OUTPUT_NODE, and a
``run(ctx, **inputs)`` method (plain or async) returning a tuple of outputs or a dict
``{"ui": {...}, "result": (...)}``. Optional ``is_changed`` / ``validate_inputs`` class
methods play the roles of IS_CHANGED and VALIDATE_INPUTS.

``REGISTRY`` holds ComfyUI 0.3.64's node set. A version that defines some nodes differently
(0.33's test nodes) registers them with ``register_for(version)``; ``registry_for(version)``
returns the merged set an emulator of that version uses (replaced nodes keep their place).
"""

REGISTRY = {}
VERSION_NODES = {}   # version -> {name: class}: replacements and additions to REGISTRY


class Interrupted(Exception):
    """comfy.model_management.InterruptProcessingException."""


class Node:
    NAME = None
    DISPLAY_NAME = None
    CATEGORY = "sd"
    DESCRIPTION = ""
    PYTHON_MODULE = "nodes"
    OUTPUT_NODE = False
    RETURN_TYPES = ()
    RETURN_NAMES = None
    OUTPUT_TOOLTIPS = None
    # Names of the inputs the node validates itself (VALIDATE_INPUTS argument names);
    # min/max and combo checks are skipped for them.
    VALIDATE_ARGS = ()
    HAS_IS_CHANGED = False

    @classmethod
    def input_types(cls, env):
        return {"required": {}}

    @classmethod
    def is_changed(cls, env, **inputs):
        return None

    @classmethod
    def validate_inputs(cls, env, **inputs):
        return True

    def run(self, ctx, **inputs):
        raise NotImplementedError


def register(cls):
    REGISTRY[cls.NAME] = cls
    return cls


def register_for(version):
    """Class decorator: ``cls`` is how ``version`` defines this node (replacing REGISTRY's)."""
    def decorator(cls):
        VERSION_NODES.setdefault(version, {})[cls.NAME] = cls
        return cls
    return decorator


def registry_for(version):
    """The node set of ``version``: REGISTRY with that version's replacements and additions."""
    load_all()
    return {**REGISTRY, **VERSION_NODES.get(version, {})}


def get_input_info(class_inputs, name):
    """(input_type, category, extra_info) like comfy_execution.graph.get_input_info."""
    for category in ("required", "optional", "hidden"):
        group = class_inputs.get(category, {})
        if name in group:
            decl = group[name]
            if category == "hidden":
                return decl, category, {}
            input_type = decl[0]
            extra = decl[1] if len(decl) > 1 else {}
            return input_type, category, extra
    return None, None, None


def node_info(cls, env):
    """/object_info's NodeInfo (0.3.64 shape; 0.33 adds three keys, see Profile.object_info_v033)."""
    inputs = cls.input_types(env)
    info = {
        "input": inputs,
        "input_order": {k: list(v.keys()) for k, v in inputs.items()},
        "output": list(cls.RETURN_TYPES),
        "output_is_list": [False] * len(cls.RETURN_TYPES),
        "output_name": list(cls.RETURN_NAMES) if cls.RETURN_NAMES is not None else list(cls.RETURN_TYPES),
        "name": cls.NAME,
        "display_name": cls.DISPLAY_NAME or cls.NAME,
        "description": cls.DESCRIPTION,
        "python_module": cls.PYTHON_MODULE,
        "category": cls.CATEGORY,
        "output_node": bool(cls.OUTPUT_NODE),
    }
    if cls.OUTPUT_TOOLTIPS is not None:
        info["output_tooltips"] = list(cls.OUTPUT_TOOLTIPS)
    if env.profile.object_info_v033:
        info = _node_info_v033(info)
    return info


def _node_info_v033(info):
    """0.33's key order: is_input_list after input_order; has_intermediate_output and
    search_aliases after output_node."""
    out = {}
    for key, value in info.items():
        out[key] = value
        if key == "input_order":
            out["is_input_list"] = False
        elif key == "output_node":
            out["has_intermediate_output"] = False
            out["search_aliases"] = []
    return out


def load_all():
    """Import the modules that register node classes."""
    from . import nodes_core, nodes_test, nodes_test_033  # noqa: F401
    return REGISTRY
