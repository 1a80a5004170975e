"""Which ComfyUI the emulator imitates: 0.3.64 (the default) or 0.33.0.

``resolve_version`` turns the ``--version`` value (or, when it is not given, the environment
variable ``COMFY_EMULATOR_VERSION``) into a canonical name, and ``profile_for`` returns the
``Profile`` of that version: the facts the server reports (version strings, /features,
/system_stats extras) and one named switch per behaviour that 0.33 changed. The code tests
these switches, never a version string, so every difference is findable by its name.
The traces behind each switch are described in README.md ("ComfyUI 0.33 mode").
"""
import os
from dataclasses import dataclass, field

V0_3_64 = "0.3.64"
V0_33 = "0.33"
DEFAULT_VERSION = V0_3_64
SUPPORTED_VERSIONS = (V0_3_64, V0_33)
ENV_VAR = "COMFY_EMULATOR_VERSION"
# Spellings accepted for each version (the release is named "0.33.0").
_ALIASES = {"0.3.64": V0_3_64, "0.33": V0_33, "0.33.0": V0_33}


class UnknownVersion(ValueError):
    """A --version value or COMFY_EMULATOR_VERSION that names no supported version."""


def resolve_version(value=None, environ=None):
    """The canonical version for ``value``; None means $COMFY_EMULATOR_VERSION, then 0.3.64."""
    source = "--version"
    if value is None:
        environ = os.environ if environ is None else environ
        value = environ.get(ENV_VAR) or None
        source = ENV_VAR
    if value is None:
        return DEFAULT_VERSION
    canonical = _ALIASES.get(str(value).strip())
    if canonical is None:
        raise UnknownVersion(f"{source}={value!r} is not a supported ComfyUI version "
                             f"(use {' or '.join(SUPPORTED_VERSIONS)})")
    return canonical


@dataclass(frozen=True)
class Profile:
    version: str                      # canonical emulator version name
    comfyui_version: str              # /system_stats system.comfyui_version
    frontend_version: str
    templates_version: str
    pytorch_version: str
    os_name: str                      # /system_stats system.os ("posix" = os.name in 0.3.64)
    # /features keys added to {"supports_preview_metadata", "max_upload_size"}, in wire order
    extra_features: tuple = ()
    # /system_stats system extras (None = absent)
    package_versions: tuple = ()      # (name, version) of comfy_package_versions
    deploy_environment: str = None
    # behaviour switches (all False = 0.3.64)
    jobs_api: bool = False            # /api/jobs, /api/jobs/{id}, its cancel routes
    canonical_prompt_ids: bool = False  # POST /prompt rejects a prompt_id that is not a lowercase UUID
    create_time: bool = False         # extra_data.create_time (ms) stamped on submit
    sec_fetch_site_check: bool = False  # Sec-Fetch-Site: cross-site -> 403 (HTTP and /ws)
    view_hardening: bool = False      # /view: nosniff, .svg/.html as attachments, no-store, Vary
    empty_404: bool = False           # unknown path -> 404 with an empty chunked octet-stream body
    head_requests: bool = False       # GET routes answer HEAD too (aiohttp's RouteTableDef default)
    object_info_v033: bool = False    # NodeInfo gains is_input_list, has_intermediate_output, search_aliases
    reuse_node_objects: bool = False  # node instances live on while their id/class stay in the prompt
    node_set: str = field(default=V0_3_64)  # which test-node definitions /object_info shows


PROFILES = {
    V0_3_64: Profile(
        version=V0_3_64, comfyui_version="0.3.64", frontend_version="1.27.10",
        templates_version="0.1.95", pytorch_version="2.8.0+cpu", os_name=os.name),
    V0_33: Profile(
        version=V0_33, comfyui_version="0.33.0", frontend_version="1.48.7",
        templates_version="0.11.41", pytorch_version="2.15.0+cu132", os_name="linux",
        extra_features=(("supports_model_type_tags", True),
                        ("extension", {"manager": {"supports_v4": True}}),
                        ("node_replacements", True),
                        ("assets", False)),
        package_versions=(("comfyui-frontend-package", "1.48.7"),
                          ("comfyui-workflow-templates", "0.11.41"),
                          ("comfyui-embedded-docs", "0.5.9"),
                          ("comfy-kitchen", "0.2.31"),
                          ("comfy-aimdo", "0.4.13")),
        deploy_environment="local-git",
        jobs_api=True, canonical_prompt_ids=True, create_time=True, sec_fetch_site_check=True,
        view_hardening=True, empty_404=True, head_requests=True, object_info_v033=True, reuse_node_objects=True,
        node_set=V0_33),
}


def profile_for(version=None):
    """The Profile of ``version`` (resolved as by resolve_version)."""
    return PROFILES[resolve_version(version)]
