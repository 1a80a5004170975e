"""Prompt validation with ComfyUI 0.3.64's error shapes (execution.validate_prompt).

The structure follows execution.py closely so that the same inputs give the same error types,
messages, details, ``dependent_outputs`` quirks and coercions (INT/FLOAT/STRING/BOOLEAN values
are converted in place; ``{"__value__": X}`` wrappers are unwrapped). The one deliberate
difference: ComfyUI iterates a node's inputs and the output nodes as Python sets (arbitrary
order); the emulator uses declaration order and prompt order.
"""
import sys
import traceback

from .nodes import get_input_info


def full_type_name(klass):
    module = klass.__module__
    if module == "builtins":
        return klass.__qualname__
    return module + "." + klass.__qualname__


def is_link(obj):
    if not isinstance(obj, list) or len(obj) != 2:
        return False
    if not isinstance(obj[0], str):
        return False
    return isinstance(obj[1], (int, float)) and not isinstance(obj[1], bool)


def validate_node_input(received_type, input_type, strict=False):
    if not received_type != input_type:
        return True
    if not isinstance(received_type, str) or not isinstance(input_type, str):
        return False
    received = set(t.strip() for t in received_type.split(","))
    wanted = set(t.strip() for t in input_type.split(","))
    if "*" in received or "*" in wanted:
        return True
    if strict:
        return received.issubset(wanted)
    return len(received.intersection(wanted)) > 0


def validate_inputs(env, prompt, item, validated):
    unique_id = item
    if unique_id in validated:
        return validated[unique_id]

    inputs = prompt[unique_id]["inputs"]
    class_type = prompt[unique_id]["class_type"]
    obj_class = env.nodes[class_type]

    class_inputs = obj_class.input_types(env)
    valid_inputs = list(class_inputs.get("required", {})) + [
        k for k in class_inputs.get("optional", {}) if k not in class_inputs.get("required", {})]

    errors = []
    valid = True
    validate_function_inputs = list(obj_class.VALIDATE_ARGS)

    for x in valid_inputs:
        input_type, input_category, extra_info = get_input_info(class_inputs, x)
        if x not in inputs:
            if input_category == "required":
                errors.append({
                    "type": "required_input_missing",
                    "message": "Required input is missing",
                    "details": f"{x}",
                    "extra_info": {"input_name": x},
                })
            continue

        val = inputs[x]
        info = [input_type, extra_info]
        if isinstance(val, list):
            if len(val) != 2:
                errors.append({
                    "type": "bad_linked_input",
                    "message": "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                    "details": f"{x}",
                    "extra_info": {"input_name": x, "input_config": info, "received_value": val},
                })
                continue

            o_id = val[0]
            o_class_type = prompt[o_id]["class_type"]
            r = env.nodes[o_class_type].RETURN_TYPES
            received_type = r[val[1]]
            if not validate_node_input(received_type, input_type):
                errors.append({
                    "type": "return_type_mismatch",
                    "message": "Return type mismatch between linked nodes",
                    "details": f"{x}, received_type({received_type}) mismatch input_type({input_type})",
                    "extra_info": {"input_name": x, "input_config": info,
                                   "received_type": received_type, "linked_node": val},
                })
                continue
            try:
                r = validate_inputs(env, prompt, o_id, validated)
                if r[0] is False:
                    valid = False
                    continue
            except Exception as ex:
                typ, _, tb = sys.exc_info()
                valid = False
                validated[o_id] = (False, [{
                    "type": "exception_during_inner_validation",
                    "message": "Exception when validating inner node",
                    "details": str(ex),
                    "extra_info": {
                        "input_name": x,
                        "input_config": info,
                        "exception_message": str(ex),
                        "exception_type": full_type_name(typ),
                        "traceback": traceback.format_tb(tb),
                        "linked_node": val,
                    },
                }], o_id)
                continue
        else:
            try:
                if isinstance(val, dict) and "__value__" in val:
                    val = val["__value__"]
                    inputs[x] = val
                if input_type == "INT":
                    val = int(val)
                    inputs[x] = val
                if input_type == "FLOAT":
                    val = float(val)
                    inputs[x] = val
                if input_type == "STRING":
                    val = str(val)
                    inputs[x] = val
                if input_type == "BOOLEAN":
                    val = bool(val)
                    inputs[x] = val
            except Exception as ex:
                errors.append({
                    "type": "invalid_input_type",
                    "message": f"Failed to convert an input value to a {input_type} value",
                    "details": f"{x}, {val}, {ex}",
                    "extra_info": {"input_name": x, "input_config": info,
                                   "received_value": val, "exception_message": str(ex)},
                })
                continue

            if x not in validate_function_inputs:
                if "min" in extra_info and val < extra_info["min"]:
                    errors.append({
                        "type": "value_smaller_than_min",
                        "message": "Value {} smaller than min of {}".format(val, extra_info["min"]),
                        "details": f"{x}",
                        "extra_info": {"input_name": x, "input_config": info, "received_value": val},
                    })
                    continue
                if "max" in extra_info and val > extra_info["max"]:
                    errors.append({
                        "type": "value_bigger_than_max",
                        "message": "Value {} bigger than max of {}".format(val, extra_info["max"]),
                        "details": f"{x}",
                        "extra_info": {"input_name": x, "input_config": info, "received_value": val},
                    })
                    continue
                if isinstance(input_type, list):
                    combo_options = input_type
                    if val not in combo_options:
                        input_config = info
                        if len(combo_options) > 20:
                            list_info = f"(list of length {len(combo_options)})"
                            input_config = None
                        else:
                            list_info = str(combo_options)
                        errors.append({
                            "type": "value_not_in_list",
                            "message": "Value not in list",
                            "details": f"{x}: '{val}' not in {list_info}",
                            "extra_info": {"input_name": x, "input_config": input_config,
                                           "received_value": val},
                        })
                        continue

    if validate_function_inputs:
        # get_input_data without an execution list: linked inputs are missing.
        filtered = {x: inputs[x] for x in validate_function_inputs
                    if x in inputs and not is_link(inputs[x])}
        r = obj_class.validate_inputs(env, **filtered)
        for x in filtered:
            if r is not True:
                details = f"{x}"
                if r is not False:
                    details += f" - {str(r)}"
                errors.append({
                    "type": "custom_validation_failed",
                    "message": "Custom validation failed for node",
                    "details": details,
                    "extra_info": {"input_name": x},
                })

    if len(errors) > 0 or valid is not True:
        ret = (False, errors, unique_id)
    else:
        ret = (True, [], unique_id)
    validated[unique_id] = ret
    return ret


def validate_prompt(env, prompt, partial_execution_list):
    """Returns (ok, error, outputs_to_execute, node_errors)."""
    outputs = []
    for x in prompt:
        if "class_type" not in prompt[x]:
            return (False, {
                "type": "invalid_prompt",
                "message": "Cannot execute because a node is missing the class_type property.",
                "details": f"Node ID '#{x}'",
                "extra_info": {},
            }, [], {})
        class_type = prompt[x]["class_type"]
        class_ = env.nodes.get(class_type)
        if class_ is None:
            return (False, {
                "type": "invalid_prompt",
                "message": f"Cannot execute because node {class_type} does not exist.",
                "details": f"Node ID '#{x}'",
                "extra_info": {},
            }, [], {})
        if class_.OUTPUT_NODE is True:
            if partial_execution_list is None or x in partial_execution_list:
                if x not in outputs:
                    outputs.append(x)

    if len(outputs) == 0:
        return (False, {"type": "prompt_no_outputs", "message": "Prompt has no outputs",
                        "details": "", "extra_info": {}}, [], {})

    good_outputs = []
    errors = []
    node_errors = {}
    validated = {}
    for o in outputs:
        valid = False
        reasons = []
        try:
            m = validate_inputs(env, prompt, o, validated)
            valid = m[0]
            reasons = m[1]
        except Exception as ex:
            typ, _, tb = sys.exc_info()
            valid = False
            reasons = [{
                "type": "exception_during_validation",
                "message": "Exception when validating node",
                "details": str(ex),
                "extra_info": {"exception_type": full_type_name(typ),
                               "traceback": traceback.format_tb(tb)},
            }]
            validated[o] = (False, reasons, o)

        if valid is True:
            good_outputs.append(o)
        else:
            errors.append((o, reasons))
            for node_id, result in validated.items():
                if result[0] is not True and len(result[1]) > 0:
                    if node_id not in node_errors:
                        node_errors[node_id] = {
                            "errors": result[1],
                            "dependent_outputs": [],
                            "class_type": prompt[node_id]["class_type"],
                        }
                    node_errors[node_id]["dependent_outputs"].append(o)

    if len(good_outputs) == 0:
        lines = []
        for o, errs in errors:
            for error in errs:
                lines.append(f"{error['message']}: {error['details']}")
        return (False, {
            "type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed validation",
            "details": "\n".join(lines),
            "extra_info": {},
        }, good_outputs, node_errors)

    return (True, None, good_outputs, node_errors)
