"""cnilib: the Container Network Interface, runtime side, for Python.

Everything a runtime needs is importable from here::

    import cnilib

    net = cnilib.load_conflist("/etc/cni/net.d", "mynet")
    cni = cnilib.CNIConfig(["/opt/cni/bin"])
    result = cni.add_network_list(net, cnilib.RuntimeConf("c1", "/var/run/netns/c1", "eth0"))

Rules of this file:

* ``import cnilib`` imports no submodule: names are resolved on first use through the module
  ``__getattr__`` (PEP 562), so that importing the package stays well under 30 ms and pulls in
  neither attrs, cattrs, jsonschema, subprocess nor asyncio. ``_EXPORTS`` maps every public
  name to the module that owns it; ``tests/test_exports.py`` checks it against each module's
  ``__all__``.
* The plugin side (:mod:`cnilib.skel`), the test kit (:mod:`cnilib.testing`) and the command line
  (:mod:`cnilib.cli`) are public modules of their own and are not re-exported here; nor is
  :func:`cnilib.convert.convert`, whose name is its submodule's (use ``result.as_version``).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Not typing.TYPE_CHECKING: importing typing alone would cost a third of the import budget.
# Type checkers treat any constant named TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._json import JSON as JSON
    from ._json import JSONObject as JSONObject
    from .aio import AsyncCNIConfig as AsyncCNIConfig
    from .aionetworks import AsyncNetworks as AsyncNetworks
    from .api import CNIConfig as CNIConfig
    from .cache import CacheEntry as CacheEntry
    from .cache import ResultCache as ResultCache
    from .capabilities import WELL_KNOWN_CAPABILITIES as WELL_KNOWN_CAPABILITIES
    from .capabilities import Bandwidth as Bandwidth
    from .capabilities import DNSSettings as DNSSettings
    from .capabilities import IPRange as IPRange
    from .capabilities import PortMapping as PortMapping
    from .capabilities import capability_args as capability_args
    from .confdir import LoadedNetwork as LoadedNetwork
    from .confdir import fingerprint as fingerprint
    from .confdir import load_directory as load_directory
    from .config import MAX_CONFIG_SIZE as MAX_CONFIG_SIZE
    from .config import NetworkConfigList as NetworkConfigList
    from .config import PluginConfig as PluginConfig
    from .config import conf_files as conf_files
    from .config import conf_from_bytes as conf_from_bytes
    from .config import conf_from_file as conf_from_file
    from .config import conflist_from_bytes as conflist_from_bytes
    from .config import conflist_from_conf as conflist_from_conf
    from .config import conflist_from_file as conflist_from_file
    from .config import describe as describe
    from .config import inject_conf as inject_conf
    from .config import load_conf as load_conf
    from .config import load_conflist as load_conflist
    from .errors import MAX_PROBLEMS as MAX_PROBLEMS
    from .errors import AddError as AddError
    from .errors import AttachmentExistsError as AttachmentExistsError
    from .errors import CacheError as CacheError
    from .errors import CNIError as CNIError
    from .errors import ConfigError as ConfigError
    from .errors import ConfigNotFoundError as ConfigNotFoundError
    from .errors import ConfigValidationError as ConfigValidationError
    from .errors import ConversionError as ConversionError
    from .errors import ErrorCode as ErrorCode
    from .errors import ExecutionError as ExecutionError
    from .errors import IncompatibleVersionError as IncompatibleVersionError
    from .errors import InvalidIdentifierError as InvalidIdentifierError
    from .errors import InvalidJSONError as InvalidJSONError
    from .errors import InvalidPluginNameError as InvalidPluginNameError
    from .errors import InvalidVersionError as InvalidVersionError
    from .errors import LockTimeoutError as LockTimeoutError
    from .errors import MultipleErrors as MultipleErrors
    from .errors import NoConfigsFoundError as NoConfigsFoundError
    from .errors import NotReadyError as NotReadyError
    from .errors import PluginError as PluginError
    from .errors import PluginNotFoundError as PluginNotFoundError
    from .errors import PluginOutputError as PluginOutputError
    from .errors import PluginTimeoutError as PluginTimeoutError
    from .errors import Problem as Problem
    from .errors import ResultError as ResultError
    from .errors import SetupError as SetupError
    from .errors import Severity as Severity
    from .errors import TeardownError as TeardownError
    from .identifiers import MAX_INTERFACE_NAME_LENGTH as MAX_INTERFACE_NAME_LENGTH
    from .identifiers import check_container_id as check_container_id
    from .identifiers import check_interface_name as check_interface_name
    from .identifiers import check_network_name as check_network_name
    from .identifiers import check_plugin_type as check_plugin_type
    from .identifiers import format_cni_args as format_cni_args
    from .identifiers import parse_cni_args as parse_cni_args
    from .invoke import AsyncExecutor as AsyncExecutor
    from .invoke import AsyncSubprocessExecutor as AsyncSubprocessExecutor
    from .invoke import Executor as Executor
    from .invoke import SubprocessExecutor as SubprocessExecutor
    from .invoke import find_plugin as find_plugin
    from .lint import LINT_RULES as LINT_RULES
    from .lint import SCHEMAS_KEY as SCHEMAS_KEY
    from .lint import has_failures as has_failures
    from .lint import lint_network as lint_network
    from .lint import lint_paths as lint_paths
    from .networks import Networks as Networks
    from .networks import Watcher as Watcher
    from .pod import NetworkResult as NetworkResult
    from .pod import PodInterface as PodInterface
    from .pod import PodResult as PodResult
    from .protocol import VERSION_REQUEST as VERSION_REQUEST
    from .protocol import Command as Command
    from .protocol import Completed as Completed
    from .protocol import GCAttachment as GCAttachment
    from .protocol import Invocation as Invocation
    from .protocol import InvocationRecord as InvocationRecord
    from .protocol import RuntimeConf as RuntimeConf
    from .protocol import build_request as build_request
    from .protocol import check_trace_context as check_trace_context
    from .protocol import cni_env as cni_env
    from .protocol import runtime_config as runtime_config
    from .schema import KINDS as KINDS
    from .schema import Kind as Kind
    from .schema import check as check
    from .schema import common_schema as common_schema
    from .schema import load_schema as load_schema
    from .schema import plugin_schema as plugin_schema
    from .schema import plugin_schema_types as plugin_schema_types
    from .schema import schema_dir as schema_dir
    from .schema import schema_path as schema_path
    from .schema import schema_registry as schema_registry
    from .schema import schema_version as schema_version
    from .schema import standard_validator as standard_validator
    from .schema import validate as validate
    from .types import DNS as DNS
    from .types import Interface as Interface
    from .types import Interface040 as Interface040
    from .types import Interface100 as Interface100
    from .types import IPAddress as IPAddress
    from .types import IPConfig as IPConfig
    from .types import IPConfig020 as IPConfig020
    from .types import IPConfig040 as IPConfig040
    from .types import IPConfig100 as IPConfig100
    from .types import IPInterface as IPInterface
    from .types import Result as Result
    from .types import Result020 as Result020
    from .types import Result040 as Result040
    from .types import Result100 as Result100
    from .types import Route as Route
    from .types import parse_cidr as parse_cidr
    from .types import parse_ip as parse_ip
    from .types import parse_result as parse_result
    from .version import LEGACY_VERSIONS as LEGACY_VERSIONS
    from .version import SPEC_VERSION as SPEC_VERSION
    from .version import SUPPORTED_VERSIONS as SUPPORTED_VERSIONS
    from .version import PluginInfo as PluginInfo
    from .version import greater_than as greater_than
    from .version import greater_than_or_equal_to as greater_than_or_equal_to
    from .version import parse_plugin_info as parse_plugin_info
    from .version import parse_version as parse_version
    from .version import plugin_supports as plugin_supports
    from .version import result_family as result_family
    from .version import select_version as select_version
    from .version import supports_check as supports_check
    from .version import supports_gc as supports_gc
    from .version import supports_status as supports_status
    from .version import versions_starting_from as versions_starting_from

_EXPORTS: dict[str, str] = {
    "MAX_PROBLEMS": "errors",
    "ErrorCode": "errors",
    "Severity": "errors",
    "Problem": "errors",
    "CNIError": "errors",
    "ConfigError": "errors",
    "ConfigValidationError": "errors",
    "InvalidJSONError": "errors",
    "ConfigNotFoundError": "errors",
    "NoConfigsFoundError": "errors",
    "InvalidIdentifierError": "errors",
    "InvalidVersionError": "errors",
    "IncompatibleVersionError": "errors",
    "ResultError": "errors",
    "ConversionError": "errors",
    "InvalidPluginNameError": "errors",
    "PluginNotFoundError": "errors",
    "PluginError": "errors",
    "PluginTimeoutError": "errors",
    "PluginOutputError": "errors",
    "ExecutionError": "errors",
    "CacheError": "errors",
    "LockTimeoutError": "errors",
    "AttachmentExistsError": "errors",
    "AddError": "errors",
    "MultipleErrors": "errors",
    "SPEC_VERSION": "version",
    "SUPPORTED_VERSIONS": "version",
    "LEGACY_VERSIONS": "version",
    "parse_version": "version",
    "greater_than": "version",
    "greater_than_or_equal_to": "version",
    "select_version": "version",
    "result_family": "version",
    "supports_check": "version",
    "supports_gc": "version",
    "supports_status": "version",
    "versions_starting_from": "version",
    "PluginInfo": "version",
    "plugin_supports": "version",
    "parse_plugin_info": "version",
    "JSON": "_json",
    "JSONObject": "_json",
    "Kind": "schema",
    "KINDS": "schema",
    "validate": "schema",
    "check": "schema",
    "schema_version": "schema",
    "schema_path": "schema",
    "schema_dir": "schema",
    "load_schema": "schema",
    "plugin_schema": "schema",
    "plugin_schema_types": "schema",
    "common_schema": "schema",
    "schema_registry": "schema",
    "standard_validator": "schema",
    "MAX_CONFIG_SIZE": "config",
    "PluginConfig": "config",
    "NetworkConfigList": "config",
    "conf_from_bytes": "config",
    "conf_from_file": "config",
    "conflist_from_bytes": "config",
    "conflist_from_file": "config",
    "conflist_from_conf": "config",
    "conf_files": "config",
    "load_conf": "config",
    "load_conflist": "config",
    "inject_conf": "config",
    "describe": "config",
    "MAX_INTERFACE_NAME_LENGTH": "identifiers",
    "check_container_id": "identifiers",
    "check_network_name": "identifiers",
    "check_interface_name": "identifiers",
    "check_plugin_type": "identifiers",
    "format_cni_args": "identifiers",
    "parse_cni_args": "identifiers",
    "Result": "types",
    "parse_result": "types",
    "Result020": "types",
    "Result040": "types",
    "Result100": "types",
    "IPConfig020": "types",
    "IPConfig040": "types",
    "IPConfig100": "types",
    "IPConfig": "types",
    "Interface040": "types",
    "Interface100": "types",
    "Interface": "types",
    "Route": "types",
    "DNS": "types",
    "IPAddress": "types",
    "IPInterface": "types",
    "parse_ip": "types",
    "parse_cidr": "types",
    "Command": "protocol",
    "RuntimeConf": "protocol",
    "GCAttachment": "protocol",
    "Invocation": "protocol",
    "Completed": "protocol",
    "InvocationRecord": "protocol",
    "VERSION_REQUEST": "protocol",
    "runtime_config": "protocol",
    "build_request": "protocol",
    "cni_env": "protocol",
    "check_trace_context": "protocol",
    "Executor": "invoke",
    "AsyncExecutor": "invoke",
    "SubprocessExecutor": "invoke",
    "AsyncSubprocessExecutor": "invoke",
    "find_plugin": "invoke",
    "CacheEntry": "cache",
    "ResultCache": "cache",
    "CNIConfig": "api",
    "lint_paths": "lint",
    "lint_network": "lint",
    "has_failures": "lint",
    "LINT_RULES": "lint",
    "SCHEMAS_KEY": "lint",
    "AsyncCNIConfig": "aio",
    "SetupError": "errors",
    "NotReadyError": "errors",
    "TeardownError": "errors",
    "PortMapping": "capabilities",
    "Bandwidth": "capabilities",
    "IPRange": "capabilities",
    "DNSSettings": "capabilities",
    "WELL_KNOWN_CAPABILITIES": "capabilities",
    "capability_args": "capabilities",
    "PodInterface": "pod",
    "NetworkResult": "pod",
    "PodResult": "pod",
    "LoadedNetwork": "confdir",
    "load_directory": "confdir",
    "fingerprint": "confdir",
    "Networks": "networks",
    "Watcher": "networks",
    "AsyncNetworks": "aionetworks",
}

#: The public names, in the order of the table above (one list of them, not two).
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'cnilib' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
